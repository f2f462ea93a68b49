"""E-mail in, when it goes wrong: unreadable or unprocessable mail is quarantined whole (and the
sending server gets 250, so it stops retrying), admins read it; a re-delivered message does
nothing the second time."""

from __future__ import annotations

import pytest

from ownwell.intake.listener import start_listener
from ownwell.staff.models import Role
from tests.conftest import make_staff_token
from tests.mailsink import free_port
from tests.test_intake_email import CARE, case_from, counts, mail, send


def raw_mail(sender: str, subject: str, body: str, message_id: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {CARE}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\r\n{body}\r\n"
    ).encode()


def held_id(reply: str) -> str:
    return next(word.rstrip(")") for word in reply.split() if word.startswith("qml_"))


@pytest.fixture
def listener(settings, session_factory, clock, admin):
    tuned = settings.model_copy(update={"mail_from": CARE})
    controller = start_listener(tuned, session_factory, clock, port=free_port())
    yield controller
    controller.stop()


@pytest.fixture
def agent(as_token, session_factory, clock):
    return as_token(
        make_staff_token(session_factory, clock, name="Ann Agent", email="ann@acme.test", role=Role.agent)
    )


def test_mail_without_a_usable_sender_is_held_whole_for_admins(
    listener, admin, agent, client, session_factory
):
    before = counts(session_factory)
    raws = [
        raw_mail("not an address", f"Help {n}", "Where is my order?", f"q{n}@example.com") for n in range(3)
    ]
    ids = []
    for raw in raws:
        code, reply = send(listener, raw, sender="relay@example.net")
        assert code == 250 and "held for review" in reply, reply
        ids.append(held_id(reply))
    assert counts(session_factory) == before  # no case, nothing sent to anyone

    first = admin.get("/intake/quarantine", limit=2).json()
    assert [h["id"] for h in first["items"]] == ids[::-1][:2]  # newest first
    rest = admin.get("/intake/quarantine", limit=2, cursor=first["next_cursor"]).json()
    assert [h["id"] for h in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    held = first["items"][0]
    assert held["subject"] == "Help 2" and held["source"] == "smtp" and held["status"] == "held"
    assert held["envelope_from"] == "relay@example.net" and held["envelope_to"] == [CARE]
    assert held["message_id"] == "q2@example.com" and "no usable From address" in held["reason"]
    raw = admin.client.get(held["raw_url"], headers=admin.headers)
    assert raw.status_code == 200 and raw.content == raws[2]
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.headers["content-disposition"].startswith("attachment;")

    # Admins only: agents are refused, strangers are not even told it exists.
    assert agent.get("/intake/quarantine").status_code == 403
    assert agent.client.get(held["raw_url"], headers=agent.headers).status_code == 403
    assert client.get("/api/v1/intake/quarantine").status_code == 401
    missing = admin.get("/intake/quarantine/qml_nope/raw")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "quarantine_id"
    bad = admin.get("/intake/quarantine", limit=0)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "limit"


def test_a_failure_in_processing_rolls_back_the_case_and_quarantines_the_mail(
    listener, admin, session_factory, monkeypatch
):
    import ownwell.intake.attachments as module

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    before = counts(session_factory)
    message = mail("My kettle leaks.", sender="Noor <noor@example.com>", Message_ID="<leak-1@example.com>")
    with monkeypatch.context() as patch:
        # Fails after the case, the customer and the acknowledgement were written.
        patch.setattr(module, "keep_files", broken)
        code, reply = send(listener, message)
    assert code == 250 and "held for review" in reply
    assert counts(session_factory) == before
    assert admin.get("/customers", identifier="noor@example.com").json()["items"] == []
    [held] = admin.get("/intake/quarantine").json()["items"]
    assert held["id"] == held_id(reply) and "RuntimeError: disk on fire" in held["reason"]
    # The same message again is recognised, not processed or held twice.
    code, reply = send(listener, message)
    assert code == 250 and "already received" in reply
    assert len(admin.get("/intake/quarantine").json()["items"]) == 1


def test_a_redelivered_message_does_nothing_the_second_time(listener, admin, session_factory):
    first = mail("The lid is cracked.", Message_ID="<lid-1@example.com>")
    code, reply = send(listener, first)
    assert code == 250 and "opened" in reply
    case_id = case_from(reply)
    after_first = counts(session_factory)
    code, again = send(listener, first)
    assert code == 250 and "already received" in again
    assert counts(session_factory) == after_first

    answer = mail("Still cracked.", Message_ID="<lid-2@example.com>")
    for _ in range(2):
        assert send(listener, answer, rcpt=f"care+{case_id}@acme.test")[0] == 250
    events = admin.get(f"/cases/{case_id}/timeline").json()["items"]
    assert [e["text"] for e in events if e["kind"] == "message_in"] == ["Still cracked."]
    assert len(admin.get("/outbox", case_id=case_id).json()["items"]) == 1


def test_an_admin_retries_held_mail_once_the_cause_is_fixed(settings, session_factory, clock, request):
    # Nobody works here yet, so nobody can own the case: the mail is held, not lost.
    tuned = settings.model_copy(update={"mail_from": CARE})
    controller = start_listener(tuned, session_factory, clock, port=free_port())
    try:
        code, reply = send(controller, mail("Is anyone there?", Message_ID="<anyone@example.com>"))
    finally:
        controller.stop()
    assert code == 250 and "held for review" in reply
    admin = request.getfixturevalue("admin")  # now someone is on duty
    [held] = admin.get("/intake/quarantine").json()["items"]
    assert "nobody is on duty" in held["reason"]

    retried = admin.post(f"/intake/quarantine/{held['id']}/retry")
    assert retried.status_code == 200, retried.json()
    body = retried.json()
    assert body["outcome"] == "opened" and body["quarantine"]["status"] == "released"
    case = admin.get(f"/cases/{body['case_id']}").json()
    assert case["owner"]["name"] == "Ada Admin" and case["subject"] == "Broken kettle"
    assert len(admin.get("/outbox", case_id=case["id"]).json()["items"]) == 1  # acknowledged

    again = admin.post(f"/intake/quarantine/{held['id']}/retry")
    assert again.status_code == 409 and again.json()["error"]["field"] == "quarantine_id"
    agent = request.getfixturevalue("agent")
    assert agent.post(f"/intake/quarantine/{held['id']}/retry").status_code == 403


def test_retrying_mail_that_still_fails_changes_nothing(listener, admin):
    _, reply = send(listener, raw_mail("not an address", "Help", "Where is it?", "still@example.com"))
    qid = held_id(reply)
    failed = admin.post(f"/intake/quarantine/{qid}/retry")
    assert failed.status_code == 409 and "no usable From address" in failed.json()["error"]["message"]
    [held] = admin.get("/intake/quarantine").json()["items"]
    assert held["status"] == "held"
