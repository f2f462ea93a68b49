"""Hostile mail over real SMTP: 200 generated malformed messages (broken MIME boundaries, unknown
charsets, CR/LF header injection, huge headers, deeply nested multiparts, binary junk, hostile
file names) reach the running listener; it stays up, and every one of them ends either on a
case or in quarantine. None is lost, none is taken twice."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from ownwell.intake.listener import start_listener
from ownwell.intake.models import Attachment, InboundMail, QuarantinedMail
from ownwell.notifications.models import OutboxMessage
from tests.mailsink import free_port
from tests.test_intake_email import CARE, _nested, case_from, mail, send, wire

MESSAGES = 200

_SENDER = st.sampled_from(
    [
        b"ines@example.com",
        b"Ines <ines@example.com>",
        b"=?x-klingon?q?Ines?= <ines@example.com>",
        b"=?utf-8?b?!!!broken?= <zed@example.com>",
        b"not an address",
        b"",
        b"<>",
        b"a@b.test\r\nBcc: victim@example.com",
        b"\xff\xfe\x00junk@example.com",
        b"x" * 3000 + b"@example.com",
    ]
)
_SUBJECT = st.sampled_from(
    [
        b"Broken kettle",
        b"Hello\r\nBcc: victim@example.com",
        b"=?x-unknown?b?SGVsbG8=?=",
        b"=?utf-8?q?caf=C3=A9_=ZZ?=",
        b"\x00\x01\x02\xff",
        b"[cas_0000000000aaaaaaaaaaaaaaaa] not ours",
    ]
)
_CHARSET = st.sampled_from([b"utf-8", b"x-no-such-charset", b"", b"utf-7", b"iso-2022-jp", b'"\x00"'])
_FILENAME = st.sampled_from(
    [
        b"receipt.pdf",
        b"../../../etc/passwd",
        b"C:\\\\Windows\\\\evil.exe",
        b"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=",
        b'"quoted\\".pdf',
        b"\x00nul.pdf",
        b"a" * 600 + b".pdf",
    ]
)


def _boundary_mess(draw: st.DrawFn) -> bytes:
    declared = draw(st.sampled_from([b'boundary="b"', b"boundary=", b"", b'boundary="' + b"z" * 300 + b'"']))
    used = draw(st.sampled_from([b"b", b"c", b""]))
    closing = draw(st.sampled_from([b"--" + used + b"--\r\n", b"", b"--" + used + b"\r\n"]))
    return (
        b"Content-Type: multipart/mixed; " + declared + b"\r\n\r\n"
        b"--" + used + b"\r\nContent-Type: text/plain; charset=" + draw(_CHARSET) + b"\r\n\r\n"
        b"words \xe9\xff\r\n" + closing
    )


def _with_attachment(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from([b"application/pdf", b"image/png", b"application/x-msdownload", b"text/html"])
    )
    encoding = draw(st.sampled_from([b"base64", b"quoted-printable", b"bogus"]))
    payload = draw(st.sampled_from([b"JVBERi0xLjQK", b"!!!not base64!!!", b"=ZZ=\r\n"]))
    return (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: "
        + kind
        + b'\r\nContent-Disposition: attachment; filename="'
        + draw(_FILENAME)
        + b'"\r\nContent-Transfer-Encoding: '
        + encoding
        + b"\r\n\r\n"
        + payload
        + b"\r\n--b--\r\n"
    )


def _charset_mess(draw: st.DrawFn) -> bytes:
    return (
        b"Content-Type: text/plain; charset=" + draw(_CHARSET) + b"\r\n"
        b"Content-Transfer-Encoding: "
        + draw(st.sampled_from([b"8bit", b"base64", b"x-uuencode"]))
        + b"\r\n\r\n"
        + draw(st.binary(max_size=400))
    )


def _huge_headers(draw: st.DrawFn) -> bytes:
    many = b"".join(b"X-Many-%d: v\r\n" % i for i in range(draw(st.integers(0, 1500))))
    return many + b"X-Huge: " + b"h" * draw(st.integers(1000, 40_000)) + b"\r\n\r\nbody\r\n"


def _deep(draw: st.DrawFn) -> bytes:
    return _nested(draw(st.sampled_from([5, 60, 400, 3000]))) + b"tail\r\n"


def _junk(draw: st.DrawFn) -> bytes:
    return draw(st.binary(min_size=1, max_size=2000))


@st.composite
def hostile(draw: st.DrawFn) -> bytes:
    head = (
        b"From: " + draw(_SENDER) + b"\r\nTo: " + CARE.encode() + b"\r\nSubject: " + draw(_SUBJECT) + b"\r\n"
    )
    shape = draw(
        st.sampled_from([_boundary_mess, _with_attachment, _charset_mess, _huge_headers, _deep, _junk])
    )
    return head + shape(draw)


@pytest.fixture
def listener(settings, session_factory, clock, admin):
    tuned = settings.model_copy(update={"mail_from": CARE, "intake_max_bytes": 400_000})
    controller = start_listener(tuned, session_factory, clock, port=free_port())
    yield controller
    controller.stop()


def test_200_hostile_messages_each_end_on_a_case_or_in_quarantine(listener, session_factory):
    numbers = itertools.count(1)
    opened: dict[str, str] = {}  # message id -> case id
    held: dict[str, str] = {}  # message id -> quarantine id

    @hsettings(
        max_examples=MESSAGES,
        deadline=None,
        derandomize=True,  # the same 200 messages on every run and every machine
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(raw=hostile())
    def deliver(raw: bytes) -> None:
        ident = f"hostile-{next(numbers)}@test"
        code, reply = send(listener, wire(b"Message-ID: <" + ident.encode() + b">\r\n" + raw))
        assert code == 250, (code, reply, raw[:300])
        if "held for review" in reply:
            held[ident] = next(w.rstrip(")") for w in reply.split() if w.startswith("qml_"))
        else:
            assert "opened" in reply or "threaded" in reply, reply
            opened[ident] = case_from(reply)

    deliver()
    assert len(opened) + len(held) == MESSAGES == next(numbers) - 1
    assert opened and held  # both paths were exercised

    with unit_of_work(session_factory) as session:
        received = {r.message_key: r for r in session.scalars(select(InboundMail))}
        quarantined = {q.id: q.message_id for q in session.scalars(select(QuarantinedMail))}
        cases = set(session.scalars(select(Case.id)))
        victims = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.recipient.contains("victim"))
        )
        files = session.scalar(select(func.count()).select_from(Attachment))
    assert set(received) == set(opened) | set(held)  # each taken exactly once
    for ident, case_id in opened.items():
        assert case_id in cases and received[ident].case_id == case_id
    assert {quarantined[q]: q for q in held.values()} == held  # held whole, under its own id
    assert victims == 0  # an injected Bcc never became a recipient
    assert files > 0  # some hostile attachments were still kept

    # Still up and still working.
    code, reply = send(listener, mail("After the storm: my kettle is broken."))
    assert code == 250 and "opened" in reply
