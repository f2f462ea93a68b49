"""What an operator's monitoring sees: /readyz says whether the database answers and a worker
sweeps, and /metrics carries the outbox's backlog, the last sweep and the quarantine."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from ownwell.app import create_app
from ownwell.notifications.senders import MemorySender
from ownwell.staff.models import Role
from ownwell.worker import run_once
from tests.conftest import Api, make_staff_token


def metric(text: str, name: str) -> float:
    [line] = [
        line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")
    ]
    return float(line.rsplit(" ", 1)[1])


def test_readyz_is_ready_only_while_a_worker_sweeps(client, session_factory, clock, settings):  # type: ignore[no-untyped-def]
    never = client.get("/readyz")
    assert never.status_code == 503
    assert "no worker has swept yet" in never.json()["problems"][0]

    run_once(session_factory, clock, settings, senders={})
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["worker_last_sweep_at"] == clock.now().isoformat()

    clock.advance(timedelta(minutes=5))
    late = client.get("/readyz")
    assert late.status_code == 503
    assert "no worker has swept since" in late.json()["problems"][0]
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_metrics_show_the_outbox_backlog_its_oldest_message_the_last_sweep_and_the_quarantine(  # type: ignore[no-untyped-def]
    db, session_factory, clock, settings
):
    mailing = settings.model_copy(update={"smtp_host": "127.0.0.1"})  # e-mail is queued, not held
    client = TestClient(create_app(settings=mailing, clock=clock, engine=db), client=("127.0.0.1", 40000))
    admin = Api(
        client, make_staff_token(session_factory, clock, name="Ada", email="ada@x.test", role=Role.admin)
    )
    admin.post(
        "/cases",
        {
            "customer": {"name": "Rita", "emails": ["rita@example.com"]},
            "subject": "Lamp broken",
            "body": "It arrived broken.",
            "channel": "email",
            "kind": "complaint",
        },
    )
    before = client.get("/metrics").text
    assert metric(before, "ownwell_worker_last_sweep_timestamp_seconds") == 0
    assert metric(before, "ownwell_quarantined_mail") == 0

    clock.advance(timedelta(minutes=10))
    waiting = client.get("/metrics").text
    assert metric(waiting, "ownwell_outbox_oldest_waiting_seconds") == 600
    assert 'ownwell_outbox_messages{status="queued"} 1.0' in waiting

    run_once(session_factory, clock, mailing, senders={"email": MemorySender()})
    after = client.get("/metrics").text
    assert metric(after, "ownwell_outbox_oldest_waiting_seconds") == 0
    assert metric(after, "ownwell_worker_last_sweep_timestamp_seconds") == clock.now().timestamp()
