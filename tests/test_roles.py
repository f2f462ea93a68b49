"""Role rules and secrets at rest."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ownwell.db import unit_of_work
from ownwell.staff.schemas import StaffIn
from ownwell.staff.security import verify_password
from ownwell.staff.service import create_staff


@pytest.fixture
def agent(admin, as_token):
    staff = admin.post("/staff", {"name": "Ann Agent", "email": "ann@acme.test", "role": "agent"}).json()
    return as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"])


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/api/v1/cases"),
        ("get", "/api/v1/customers"),
        ("get", "/api/v1/staff"),
        ("get", "/api/v1/departments"),
        ("get", "/api/v1/agenda"),
        ("get", "/api/v1/outbox"),
        ("post", "/api/v1/cases"),
        ("post", "/api/v1/departments"),
    ],
)
def test_no_token_reads_nothing(client, admin, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer ow_not-a-real-token"})
    assert wrong.status_code == 401


def test_health_needs_no_token(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_agent_cannot_manage_staff_or_departments(agent, admin):
    assert agent.post("/departments", {"name": "Rogue"}).status_code == 403
    made = agent.post("/staff", {"name": "Eve", "email": "eve@acme.test", "role": "admin"})
    assert made.status_code == 403
    me = agent.get("/staff").json()["items"]
    ann = next(s for s in me if s["email"] == "ann@acme.test")
    assert agent.patch(f"/staff/{ann['id']}", {"role": "admin"}).status_code == 403
    assert agent.post(f"/staff/{ann['id']}/tokens").status_code == 403
    assert agent.put("/cadence-policies/complaint", {"update_every_minutes": 60}).status_code == 403
    assert [d["name"] for d in admin.get("/departments").json()["items"]] == []
    # What an agent may do: read the organisation and work cases.
    assert agent.get("/departments").status_code == 200


def test_only_owner_or_supervisor_moves_a_case(admin, agent, as_token):
    other = admin.post("/staff", {"name": "Bo Other", "email": "bo@acme.test", "role": "agent"}).json()
    case = admin.post("/cases", {"customer": {"emails": ["c@example.com"]}, "body": "Broken"}).json()
    owner_id = case["owner"]["id"]
    # The least-loaded agent owns it; whoever does not own it may not transfer or resolve it.
    outsider = (
        agent
        if owner_id == other["id"]
        else as_token(admin.post(f"/staff/{other['id']}/tokens").json()["token"])
    )
    transfer = outsider.post(
        f"/cases/{case['id']}/transfer", {"to_staff_id": other["id"], "handoff_note": "mine"}
    )
    assert transfer.status_code == 403
    assert outsider.post(f"/cases/{case['id']}/resolve", {"summary": "done"}).status_code == 403
    assert admin.post(f"/cases/{case['id']}/resolve", {"summary": "Replaced the part."}).status_code == 200


def test_tokens_and_passwords_are_not_stored_in_clear(admin, db, session_factory, clock):
    staff = admin.post(
        "/staff",
        {"name": "Pat Pass", "email": "pat@acme.test", "role": "agent", "password": "correct horse battery"},
    ).json()
    token = admin.post(f"/staff/{staff['id']}/tokens").json()["token"]
    with db.connect() as conn:
        hashes = [r[0] for r in conn.execute(text("SELECT token_hash FROM api_tokens"))]
        password_hash = conn.execute(
            text("SELECT password_hash FROM staff WHERE id = :i"), {"i": staff["id"]}
        ).scalar()
        dump = " ".join(
            str(v)
            for t in ("api_tokens", "staff")
            for row in conn.execute(text(f"SELECT * FROM {t}"))
            for v in row
        )
    assert token not in dump and "correct horse battery" not in dump
    assert all(len(h) == 64 for h in hashes)
    assert password_hash.startswith("$argon2")
    assert verify_password(password_hash, "correct horse battery")
    assert not verify_password(password_hash, "wrong")
    with unit_of_work(session_factory) as session:
        quiet = create_staff(
            session,
            data=StaffIn(name="No Pass", email="np@acme.test", role="agent"),
            now=clock.now(),
            by=None,
        )
        assert quiet.password_hash is None


def test_prometheus_metrics_count_cases_and_outbox(app, client, admin):
    from fastapi.testclient import TestClient

    admin.post("/cases", {"customer": {"emails": ["m@example.com"]}, "body": "Count me"})
    with TestClient(app, client=("127.0.0.1", 40000)) as local:  # /metrics: loopback or a token
        text = local.get("/metrics").text
    assert 'ownwell_cases{status="open"} 1.0' in text
    assert 'ownwell_outbox_messages{status="held"} 1.0' in text
