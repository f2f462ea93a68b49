"""E-mail in by IMAP polling, against a real dovecot on loopback: the worker's job takes unseen
mail through the same path as SMTP, marks it seen only after the commit, never twice."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from imap_tools import MailBoxUnencrypted
from sqlalchemy import func, select

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from ownwell.intake.jobs import poll_imap
from ownwell.worker import run_jobs
from tests.imapserver import DOVECOT, Dovecot
from tests.test_intake_email import _nested

CARE = "care@acme.test"


@pytest.fixture(scope="module")
def dovecot_server():
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (scripts/test installs Debian's dovecot-imapd)")
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(dovecot_server):
    """The shared server with an empty INBOX."""
    with mailbox(dovecot_server) as box:
        box.delete(box.uids())
    return dovecot_server


@pytest.fixture
def imap_settings(settings, dovecot):
    return settings.model_copy(
        update={
            "mail_from": CARE,
            "imap_host": dovecot.host,
            "imap_port": dovecot.port,
            "imap_user": dovecot.user,
            "imap_password": dovecot.password,
            "imap_ssl": False,
        }
    )


def mailbox(server: Dovecot) -> MailBoxUnencrypted:
    return MailBoxUnencrypted(server.host, port=server.port, timeout=10).login(server.user, server.password)


def deliver(server: Dovecot, raw: bytes) -> None:
    with mailbox(server) as box:
        box.append(raw, "INBOX")


def seen_flags(server: Dovecot) -> list[bool]:
    with mailbox(server) as box:
        return ["\\Seen" in m.flags for m in box.fetch(mark_seen=False, headers_only=True)]


def customer_mail(body: str, *, message_id: str = "<kettle-1@example.com>") -> bytes:
    message = EmailMessage()
    message["From"] = "Ines Moreau <ines@example.com>"
    message["To"] = CARE
    message["Subject"] = "Broken kettle"
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def case_count(session_factory) -> int:
    with unit_of_work(session_factory) as session:
        return session.scalar(select(func.count()).select_from(Case)) or 0


def test_polling_opens_a_case_marks_the_mail_seen_and_never_twice(
    dovecot, imap_settings, session_factory, clock, admin
):
    deliver(dovecot, customer_mail("My kettle stopped working after two days."))
    assert seen_flags(dovecot) == [False]

    done = run_jobs(session_factory, clock, imap_settings)
    assert done["intake.poll_imap"] == 1
    [case] = admin.get("/cases").json()["items"]
    assert case["subject"] == "Broken kettle" and case["channel"] == "email"
    [created] = admin.get(f"/cases/{case['id']}/timeline").json()["items"][:1]
    assert created["text"] == "My kettle stopped working after two days."
    [ack] = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert ack["recipient"] == "ines@example.com"
    assert seen_flags(dovecot) == [True]

    # Nothing unseen: nothing happens.
    assert run_jobs(session_factory, clock, imap_settings)["intake.poll_imap"] == 0
    # The mail shows up unseen again (a crash between our commit and the flag): it is taken,
    # recognised as already received, marked seen, and nothing is duplicated.
    with mailbox(dovecot) as box:
        box.flag(box.uids(), "\\Seen", False)
    assert run_jobs(session_factory, clock, imap_settings)["intake.poll_imap"] == 1
    assert case_count(session_factory) == 1
    assert len(admin.get("/outbox", case_id=case["id"]).json()["items"]) == 1
    assert seen_flags(dovecot) == [True]


def test_a_rolled_back_poll_leaves_the_mail_unseen(dovecot, imap_settings, session_factory, clock, admin):
    deliver(dovecot, customer_mail("Please call me back.", message_id="<call-1@example.com>"))

    class Crash(Exception):
        pass

    with pytest.raises(Crash), unit_of_work(session_factory) as session:
        assert poll_imap(session, now=clock.now(), settings=imap_settings) == 1
        raise Crash  # the commit never happens
    assert case_count(session_factory) == 0
    assert seen_flags(dovecot) == [False]

    assert run_jobs(session_factory, clock, imap_settings)["intake.poll_imap"] == 1
    assert case_count(session_factory) == 1
    assert seen_flags(dovecot) == [True]


def test_unparseable_mail_from_imap_ends_in_quarantine(dovecot, imap_settings, session_factory, clock, admin):
    raw = b"From: deep@example.com\r\nSubject: deep\r\nMessage-ID: <deep@example.com>\r\n" + _nested(3000)
    deliver(dovecot, raw)
    assert run_jobs(session_factory, clock, imap_settings)["intake.poll_imap"] == 1
    assert case_count(session_factory) == 0
    [held] = admin.get("/intake/quarantine").json()["items"]
    assert held["source"] == "imap" and held["message_id"] == "deep@example.com"
    assert held["reason"].startswith("unreadable")
    # Kept whole: dovecot hands back exactly what was appended.
    assert admin.client.get(held["raw_url"], headers=admin.headers).content == raw
    assert seen_flags(dovecot) == [True]
    # A second poll finds nothing new; the quarantine holds it once.
    run_jobs(session_factory, clock, imap_settings)
    assert len(admin.get("/intake/quarantine").json()["items"]) == 1


def test_polling_is_off_without_a_host(settings, session_factory, clock):
    with unit_of_work(session_factory) as session:
        assert poll_imap(session, now=clock.now(), settings=settings) == 0
