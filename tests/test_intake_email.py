"""E-mail in: a real SMTP client talks to the built-in listener; replies thread onto their case,
machine mail is ignored, hostile mail never crashes anything."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from ownwell.intake.listener import start_listener
from ownwell.intake.service import receive_email
from ownwell.notifications.models import OutboxMessage
from tests.mailsink import free_port

CARE = "care@acme.test"
LIMIT = 200_000


@pytest.fixture
def intake_settings(settings):
    return settings.model_copy(update={"mail_from": CARE, "intake_max_bytes": LIMIT})


@pytest.fixture
def listener(intake_settings, session_factory, clock, admin):
    controller = start_listener(intake_settings, session_factory, clock, port=free_port())
    yield controller
    controller.stop()


def send(listener, raw: bytes | str, *, rcpt: str = CARE, sender: str = "someone@example.com"):
    """(code, reply) of the DATA command, over a real SMTP conversation."""
    # smtplib sends bytes as they are: lines must already end in CRLF.
    data = raw.as_bytes(policy=raw.policy.clone(linesep="\r\n")) if isinstance(raw, EmailMessage) else raw
    with smtplib.SMTP(listener.hostname, listener.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail(sender)[0] == 250
        assert smtp.rcpt(rcpt)[0] == 250
        try:
            code, reply = smtp.data(data)
        except smtplib.SMTPDataError as exc:
            code, reply = exc.smtp_code, exc.smtp_error
        return code, reply.decode()


def mail(
    body: str, *, sender: str = "Ines Moreau <ines@example.com>", subject: str = "Broken kettle", **headers
):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = CARE
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def counts(session_factory) -> tuple[int, int]:
    with unit_of_work(session_factory) as session:
        cases = session.scalar(select(func.count()).select_from(Case))
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
    return cases, outbox


def case_from(reply: str) -> str:
    return next(word.rstrip(")") for word in reply.split() if word.startswith("cas_"))


def test_new_mail_from_known_customer_opens_an_owned_case(listener, admin):
    customer = admin.post("/customers", {"name": "Ines Moreau", "emails": ["ines@example.com"]}).json()
    code, reply = send(listener, mail("My kettle stopped working after two days."))
    assert code == 250 and "opened" in reply
    case = admin.get(f"/cases/{case_from(reply)}").json()
    assert case["customer_id"] == customer["id"] and case["channel"] == "email"
    assert case["owner"]["name"] == "Ada Admin" and case["subject"] == "Broken kettle"
    [ack] = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert ack["kind"] == "acknowledgement" and ack["recipient"] == "ines@example.com"
    assert "Ada Admin" in ack["body"]


def test_replies_thread_onto_the_case_by_every_method(listener, admin, session_factory):
    _, reply = send(listener, mail("The lid is cracked."))
    case_id = case_from(reply)
    [ack] = admin.get("/outbox", case_id=case_id).json()["items"]
    ways = [
        (mail("Reply one", subject="Re: Broken kettle"), f"care+{case_id}@acme.test"),
        (mail("Reply two", subject="Re: x", In_Reply_To=f"<{ack['id']}@acme.test>"), CARE),
        (mail("Reply three", subject=f"Re: [{case_id}] Broken kettle"), CARE),
        (mail("Reply four", subject="Re: x", References=f"<other@x.test> <{case_id}@acme.test>"), CARE),
    ]
    for message, rcpt in ways:
        code, answer = send(listener, message, rcpt=rcpt)
        assert (code, case_from(answer)) == (250, case_id), answer
        assert "threaded" in answer
    events = admin.get(f"/cases/{case_id}/timeline").json()["items"]
    words = [e["text"] for e in events if e["kind"] == "message_in"]
    assert words == ["Reply one", "Reply two", "Reply three", "Reply four"]
    assert all(e["actor"]["type"] == "customer" for e in events if e["kind"] == "message_in")
    # Someone else quoting Ines's case tag gets a case of their own.
    stranger = mail("Me too", sender="bob@example.com", subject=f"[{case_id}] kettle")
    code, answer = send(listener, stranger, rcpt=f"care+{case_id}@acme.test")
    assert code == 250 and "opened" in answer and case_from(answer) != case_id


def _resolved_case(listener, admin) -> str:  # type: ignore[no-untyped-def]
    _, reply = send(listener, mail("The lid is cracked."))
    case_id = case_from(reply)
    assert admin.post(f"/cases/{case_id}/resolve", {"summary": "New lid sent."}).status_code == 200
    return case_id


def test_a_reply_to_a_resolved_case_reopens_it_with_the_same_owner(listener, admin):
    case_id = _resolved_case(listener, admin)
    code, answer = send(listener, mail("It is cracked again."), rcpt=f"care+{case_id}@acme.test")
    assert code == 250 and case_from(answer) == case_id
    case = admin.get(f"/cases/{case_id}").json()
    assert case["status"] == "open" and case["owner"]["name"] == "Ada Admin"


def test_a_thank_you_after_the_resolution_is_kept_without_reopening_the_case(listener, admin):
    case_id = _resolved_case(listener, admin)
    code, answer = send(listener, mail("Thanks a lot, all sorted!"), rcpt=f"care+{case_id}@acme.test")
    assert code == 250 and case_from(answer) == case_id
    assert admin.get(f"/cases/{case_id}").json()["status"] == "resolved"
    events = admin.get(f"/cases/{case_id}/timeline").json()["items"]
    assert [e["text"] for e in events if e["kind"] == "message_in"] == ["Thanks a lot, all sorted!"]
    # Thanks with a "but" is not the end of it.
    send(listener, mail("Thanks, but the new lid is cracked too."), rcpt=f"care+{case_id}@acme.test")
    assert admin.get(f"/cases/{case_id}").json()["status"] == "open"


def test_the_listener_survives_a_failure_and_asks_for_a_retry(listener, session_factory, monkeypatch):
    import ownwell.intake.listener as module

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    before = counts(session_factory)
    with monkeypatch.context() as patch:
        patch.setattr(module, "receive_email", broken)
        code, reply = send(listener, mail("Hello?"))
    assert code == 451 and "Try again later" in reply
    assert counts(session_factory) == before
    assert send(listener, mail("Hello again"))[0] == 250


def test_quoted_history_is_kept_after_the_new_words(listener, admin):
    text = "Still broken.\n\nOn Mon, 2 Mar 2026 at 09:00, Care <care@acme.test> wrote:\n> Hello Ines"
    _, reply = send(listener, mail(text))
    [created] = admin.get(f"/cases/{case_from(reply)}/timeline").json()["items"][:1]
    assert created["text"].startswith("Still broken.") and "> Hello Ines" in created["text"]


def test_machine_mail_opens_nothing_and_is_never_answered(listener, session_factory):
    before = counts(session_factory)
    ooo = mail("I am away until Monday.", Auto_Submitted="auto-replied")
    assert send(listener, ooo)[0] == 250
    bounce = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: care@acme.test\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n"
        b"--b--\r\n"
    )
    code, reply = send(listener, bounce, sender="")
    assert code == 250 and "not answered" in reply
    ours = mail("Hello", X_Ownwell_Kind="acknowledgement")
    list_mail = mail("News", List_Id="<news.example.com>")
    for message in (ours, list_mail):
        assert send(listener, message)[0] == 250
    assert counts(session_factory) == before


def test_html_only_mail_becomes_readable_text(listener, admin):
    message = EmailMessage()
    message["From"] = "ola@example.com"
    message["To"] = CARE
    message["Subject"] = "Invoice"
    message.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>My invoice is <b>wrong</b>.</p>"
        "<p>Please fix &amp; resend.</p><script>alert(1)</script></body></html>",
        subtype="html",
    )
    _, reply = send(listener, message)
    [created] = admin.get(f"/cases/{case_from(reply)}/timeline").json()["items"][:1]
    assert created["text"] == "My invoice is wrong.\n\nPlease fix & resend."


def test_mail_over_the_size_limit_is_refused_with_the_reason(listener, session_factory):
    before = counts(session_factory)
    code, reply = send(listener, mail(("word " * 15 + "\n") * 3000))
    assert code == 552 and "too big" in reply and str(LIMIT) in reply, (code, reply)
    assert counts(session_factory) == before


# --- hostile input ------------------------------------------------------------------------------

_FROM = st.sampled_from(
    [
        "ines@example.com",
        "Ines <ines@example.com>",
        "=?x-unknown?q?Ines?= <ines@example.com>",
        "=?utf-8?b?!!!broken?= <zed@example.com>",
        "not an address",
        "",
        "a@b.test\r\nBcc: victim@example.com",
        "<>",
        '"\\"quoted\\"" <q@example.com>, second@example.com',
        "x" * 5000 + "@example.com",
    ]
)
_CONTENT_TYPE = st.sampled_from(
    [
        "text/plain; charset=utf-8",
        "text/plain; charset=x-no-such-charset",
        "text/plain; charset=",
        "text/html; charset=iso-8859-1",
        "multipart/mixed",  # no boundary
        'multipart/alternative; boundary="b"',
        "multipart/report; report-type=delivery-status; boundary=b",
        "application/octet-stream",
        "garbage/;;;==",
    ]
)
_ENCODING = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])


def _nested(depth: int) -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i) for i in range(depth)
    )
    return head + b"Content-Type: text/plain\r\n\r\ndeep words\r\n"


@st.composite
def hostile_mail(draw) -> bytes:
    lines = [
        b"From: " + draw(_FROM).encode("utf-8", "surrogateescape"),
        b"To: " + draw(st.sampled_from([CARE, "care+cas_0000000000aaaaaaaaaaaaaaaa@acme.test", ""])).encode(),
        b"Subject: " + draw(st.text(max_size=300)).encode("utf-8", "surrogatepass").replace(b"\n", b" "),
        b"Content-Type: " + draw(_CONTENT_TYPE).encode(),
        b"Content-Transfer-Encoding: " + draw(_ENCODING).encode(),
    ]
    if draw(st.booleans()):
        lines.append(b"X-Huge: " + b"h" * draw(st.integers(1000, 60_000)))
    if draw(st.booleans()):
        lines.append(
            b"In-Reply-To: <msg_" + draw(st.binary(max_size=30)).replace(b"\n", b"") + b"@acme.test>"
        )
    lines.append(draw(st.binary(max_size=200)).replace(b"\n", b" "))  # a broken header line
    body = draw(st.binary(max_size=3000))
    if draw(st.integers(0, 4)) == 0:
        body = _nested(draw(st.integers(1, 400))) + body
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@hsettings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=hostile_mail())
def test_hostile_mail_never_escapes_receive_email(raw, session_factory, intake_settings, clock, admin):
    with unit_of_work(session_factory) as session:
        result = receive_email(session, raw=raw, now=clock.now(), settings=intake_settings)
    assert result.outcome in ("opened", "threaded", "ignored", "quarantined", "duplicate")
    assert (result.case_id is not None) == (result.outcome in ("opened", "threaded"))
    assert (result.quarantine_id is not None) == (result.outcome == "quarantined")


def wire(raw: bytes) -> bytes:
    """What a real MTA would relay: CRLF line ends, lines cut to SMTP's 1000-octet limit."""
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    return b"\r\n".join(line[i : i + 900] for line in lines for i in range(0, max(len(line), 1), 900))


@hsettings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=hostile_mail())
def test_hostile_mail_over_smtp_gets_an_answer(raw, listener):
    code, _ = send(listener, wire(raw))
    assert code in (250, 552), (code, _)


def test_a_message_too_deep_to_parse_is_quarantined_and_accepted(listener, session_factory, admin):
    before = counts(session_factory)
    raw = wire(b"From: deep@example.com\r\nSubject: deep\r\n" + _nested(3000))
    code, reply = send(listener, raw)
    assert code == 250 and "held for review" in reply, reply
    assert counts(session_factory) == before  # no case, nothing sent
    [held] = admin.get("/intake/quarantine").json()["items"]
    assert held["subject"] == "deep" and held["reason"].startswith("unreadable")
    assert admin.client.get(held["raw_url"], headers=admin.headers).content == raw


def test_praise_in_an_e_mail_reply_is_kudos_for_the_owner(listener, admin):
    _, reply = send(listener, mail("The lid is cracked."))
    case_id = case_from(reply)
    owner_id = admin.get(f"/cases/{case_id}").json()["owner"]["id"]
    send(listener, mail("Thank you, Ada was brilliant!"), rcpt=f"care+{case_id}@acme.test")
    send(listener, mail("Still waiting for the lid."), rcpt=f"care+{case_id}@acme.test")
    [kudos] = admin.get(f"/staff/{owner_id}/kudos").json()["items"]
    assert kudos["case_id"] == case_id and "brilliant" in kudos["text"]
