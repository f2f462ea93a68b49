"""The outbox reaches a real SMTP server: headers, retries, failure, held mail, webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ownwell.app import create_app
from ownwell.worker import run_jobs, run_once
from tests.conftest import Api
from tests.mailsink import MailSink, free_port


@pytest.fixture
def smtp_settings(settings, mailsink):
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": mailsink.port, "mail_from": "care@acme.test"}
    )


@pytest.fixture
def api(db, smtp_settings, clock, client, admin):
    """The admin's API on an app configured with the sink as its SMTP server."""
    from fastapi.testclient import TestClient

    app = create_app(settings=smtp_settings, clock=clock, engine=db)
    with TestClient(app, raise_server_exceptions=False) as smtp_client:
        yield Api(smtp_client, admin.headers["Authorization"].split()[1])


def test_message_reaches_smtp_with_threading_headers(api, mailsink, session_factory, clock, smtp_settings):
    case = api.post(
        "/cases", {"customer": {"emails": ["ines@example.com"]}, "body": "Where is my refund?"}
    ).json()
    queued = api.get("/outbox", case_id=case["id"]).json()["items"]
    assert [m["status"] for m in queued] == ["queued"]
    done = run_once(session_factory, clock, smtp_settings)
    assert done["notifications.deliver"] == 1
    [mail] = mailsink.to("ines@example.com")
    assert mail["Message-ID"] == f"<{queued[0]['id']}@acme.test>"
    assert mail["References"] == f"<{case['id']}@acme.test>"
    assert mail["Reply-To"] == f"care+{case['id']}@acme.test"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "Ada Admin" in mail.get_content()
    sent = api.get("/outbox", case_id=case["id"]).json()["items"][0]
    assert sent["status"] == "sent" and sent["attempts"] == 1 and sent["sent_at"] is not None
    # A second sweep sends nothing again.
    run_once(session_factory, clock, smtp_settings)
    assert mailsink.count() == 1


def test_refused_connections_retry_then_arrive_or_fail(api, session_factory, clock, smtp_settings):
    port = free_port()
    down = smtp_settings.model_copy(update={"smtp_port": port, "delivery_max_attempts": 3})
    case = api.post("/cases", {"customer": {"emails": ["ola@example.com"]}, "body": "Hello"}).json()
    run_once(session_factory, clock, down)
    message = api.get("/outbox", case_id=case["id"]).json()["items"][0]
    assert message["status"] == "retrying" and message["attempts"] == 1
    assert "Connection" in message["last_error"] or "refused" in message["last_error"].lower()
    # Not due yet: nothing is attempted until the backoff has passed.
    run_once(session_factory, clock, down)
    assert api.get("/outbox", case_id=case["id"]).json()["items"][0]["attempts"] == 1
    clock.advance(timedelta(seconds=31))
    run_once(session_factory, clock, down)
    assert api.get("/outbox", case_id=case["id"]).json()["items"][0]["attempts"] == 2
    # The server comes back: the message arrives, once.
    sink = MailSink(port).start()
    try:
        clock.advance(timedelta(minutes=2))
        run_once(session_factory, clock, down)
        assert len(sink.to("ola@example.com")) == 1
        assert api.get("/outbox", case_id=case["id"]).json()["items"][0]["status"] == "sent"
    finally:
        sink.stop()

    other = api.post("/cases", {"customer": {"emails": ["pat@example.com"]}, "body": "Hi"}).json()
    for _ in range(3):
        run_once(session_factory, clock, down)
        clock.advance(timedelta(hours=1))
    failed = api.get("/outbox", case_id=other["id"]).json()["items"][0]
    assert failed["status"] == "failed" and failed["attempts"] == 3 and failed["last_error"]
    assert failed["id"] in [m["id"] for m in api.get("/outbox", status="failed").json()["items"]]


def test_refused_recipient_fails_at_once(api, mailsink, session_factory, clock, smtp_settings):
    mailsink.refuse.add("gone@example.com")
    case = api.post("/cases", {"customer": {"emails": ["gone@example.com"]}, "body": "Hi"}).json()
    run_once(session_factory, clock, smtp_settings)
    message = api.get("/outbox", case_id=case["id"]).json()["items"][0]
    assert message["status"] == "failed" and "550" in message["last_error"]


def test_held_mail_goes_out_once_smtp_is_configured(
    admin, session_factory, clock, settings, smtp_settings, mailsink
):
    case = admin.post("/cases", {"customer": {"emails": ["held@example.com"]}, "body": "Hi"}).json()
    run_once(session_factory, clock, settings)  # no SMTP server configured
    assert admin.get("/outbox", case_id=case["id"]).json()["items"][0]["status"] == "held"
    run_once(session_factory, clock, smtp_settings)
    assert len(mailsink.to("held@example.com")) == 1


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Gateway.received.append((dict(self.headers), body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):  # quiet
        return


def test_webhook_channel_posts_signed_json(admin, session_factory, clock, settings):
    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Gateway.received.clear()
    try:
        hooked = settings.model_copy(
            update={"webhook_url": f"http://127.0.0.1:{server.server_port}/sms", "webhook_secret": "s3cret"}
        )
        admin.post("/customers", {"phones": ["+44 7700 900123"], "preferences": {"channel": "webhook"}})
        case = admin.post("/cases", {"customer": {"phones": ["+447700900123"]}, "body": "Text me"}).json()
        run_jobs(session_factory, clock, hooked)  # releases the held webhook message
        run_once(session_factory, clock, hooked)
        [(headers, body)] = _Gateway.received
        t = int(clock.now().timestamp())
        expected = hmac.new(b"s3cret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["Ownwell-Signature"] == f"t={t},v1={expected}"
        payload = json.loads(body)
        assert payload["recipient"] == "+447700900123" and payload["case_id"] == case["id"]
        assert admin.get("/outbox", case_id=case["id"]).json()["items"][0]["status"] == "sent"
    finally:
        server.shutdown()


def test_a_delivery_backlog_hands_back_to_the_timers_once_its_budget_is_spent(
    session_factory, settings, clock
):  # type: ignore[no-untyped-def]
    from ownwell.db import unit_of_work
    from ownwell.notifications.delivery import deliver_all
    from ownwell.notifications.models import OutboxChannel
    from ownwell.notifications.outbox import enqueue
    from ownwell.notifications.senders import MemorySender

    one_at_a_time = settings.model_copy(update={"delivery_batch": 1, "smtp_host": "127.0.0.1"})
    with unit_of_work(session_factory) as session:
        for i in range(3):
            enqueue(
                session,
                key=f"backlog:{i}",
                channel=OutboxChannel.email,
                recipient=f"customer{i}@example.com",
                kind="load",
                subject="Update",
                body="On its way.",
                now=clock.now(),
                settings=one_at_a_time,
            )
    sender = MemorySender()
    # A spent budget: the batch in hand is finished, no next one is started; the next sweep
    # (after the timers) takes the rest.
    assert (
        deliver_all(
            session_factory, senders={"email": sender}, clock=clock, settings=one_at_a_time, budget_s=0
        )
        == 1
    )
    assert deliver_all(session_factory, senders={"email": sender}, clock=clock, settings=one_at_a_time) == 2
    assert len(sender.sent) == 3


def test_retries_and_failures_are_logged_by_message_id_without_the_customers_address(  # type: ignore[no-untyped-def]
    api, session_factory, clock, smtp_settings, caplog
):
    import logging

    down = smtp_settings.model_copy(update={"smtp_port": free_port(), "delivery_max_attempts": 2})
    case = api.post("/cases", {"customer": {"emails": ["quiet@example.com"]}, "body": "Hello"}).json()
    [message] = api.get("/outbox", case_id=case["id"]).json()["items"]
    caplog.set_level(logging.INFO, logger="ownwell")
    run_once(session_factory, clock, down)
    clock.advance(timedelta(hours=1))
    run_once(session_factory, clock, down)

    said = [r.getMessage() for r in caplog.records if message["id"] in r.getMessage()]
    assert len(said) == 2 and "will be retried" in said[0] and "failed for good" in said[1]
    assert not [r for r in caplog.records if "quiet@example.com" in r.getMessage()]
