"""Issue 2's journey, through the HTTP API only: the case always has one named owner."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from ownwell.commitments.jobs import sweep_broken
from ownwell.db import unit_of_work


def test_customer_case_owned_transferred_and_promise_broken(admin, as_token, clock, session_factory):
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    care = admin.post("/departments", {"name": "Customer Care"}).json()
    tomas = admin.post(
        "/staff",
        {
            "name": "Tomás Silva",
            "email": "tomas@acme.test",
            "role": "agent",
            "department_ids": [shipping["id"]],
        },
    ).json()
    priya = admin.post(
        "/staff",
        {"name": "Priya Nair", "email": "priya@acme.test", "role": "agent", "department_ids": [care["id"]]},
    ).json()
    tomas_api = as_token(admin.post(f"/staff/{tomas['id']}/tokens").json()["token"])
    priya_api = as_token(admin.post(f"/staff/{priya['id']}/tokens").json()["token"])
    known = admin.post("/customers", {"name": "Rosa Díaz", "emails": ["rosa@example.com"]})
    assert known.status_code == 201, known.text

    # The customer writes in with nothing but an e-mail address; shipping caused the problem.
    created = admin.post(
        "/cases",
        {
            "customer": {"emails": ["Rosa@Example.COM"]},
            "body": "My parcel was due Friday and has not arrived.",
            "channel": "email",
            "kind": "complaint",
            "caused_by_department_id": shipping["id"],
        },
    )
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["customer_id"] == known.json()["id"]
    assert case["owner"] == {"id": tomas["id"], "name": "Tomás Silva"}
    assert case["status"] == "open"
    assert case["next_update_due"] == "2026-03-03T09:00:00Z"  # complaint cadence: 24 hours
    assert case["portal_url"].startswith("http://ownwell.test/portal/")

    # The same address, typed another way, lands on the same customer.
    again = admin.post(
        "/cases", {"customer": {"emails": [" ROSA@example.com "]}, "body": "Also, the invoice is wrong."}
    ).json()
    assert again["customer_id"] == case["customer_id"]
    assert len(admin.get("/customers", identifier="rosa@EXAMPLE.com").json()["items"]) == 1

    # Ownership moves only with a written hand-off.
    refused = tomas_api.post(f"/cases/{case['id']}/transfer", {"to_staff_id": priya["id"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "handoff_note"
    blank = tomas_api.post(
        f"/cases/{case['id']}/transfer", {"to_staff_id": priya["id"], "handoff_note": "  "}
    )
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "handoff_note"
    moved = tomas_api.post(
        f"/cases/{case['id']}/transfer",
        {"to_staff_id": priya["id"], "handoff_note": "Carrier confirmed loss; needs a replacement order."},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner"]["name"] == "Priya Nair"
    events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    handoff = next(e for e in events if e["kind"] == "handoff")
    assert handoff["data"]["from"]["name"] == "Tomás Silva"
    assert handoff["data"]["to"]["name"] == "Priya Nair"
    assert handoff["text"] == "Carrier confirmed loss; needs a replacement order."
    told = next(e for e in events if e["kind"] == "owner_changed")
    assert told["visibility"] == "customer"
    assert "Tomás Silva" in told["text"] and "Priya Nair" in told["text"]
    outbox = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert any(m["recipient"] == "rosa@example.com" and "Priya Nair" in m["subject"] for m in outbox)

    # A promise due in two hours is on the owner's agenda, and breaks when the clock passes it.
    due = (clock.now() + timedelta(hours=2)).isoformat()
    promise = priya_api.post(
        f"/cases/{case['id']}/commitments", {"text": "Call Rosa with the replacement date", "due_at": due}
    )
    assert promise.status_code == 201, promise.text
    agenda = priya_api.get("/agenda").json()["items"]
    assert any(i["kind"] == "commitment" and i["commitment_id"] == promise.json()["id"] for i in agenda)
    assert not any(
        i.get("commitment_id") == promise.json()["id"] for i in tomas_api.get("/agenda").json()["items"]
    )

    clock.advance(timedelta(hours=3))
    with unit_of_work(session_factory) as session:
        assert sweep_broken(session, now=clock.now()) == 1
    with unit_of_work(session_factory) as session:
        assert sweep_broken(session, now=clock.now()) == 0  # idempotent
    assert admin.get(f"/commitments/{promise.json()['id']}").json()["status"] == "broken"


def test_database_refuses_a_case_without_owner(admin, db):
    admin.post("/departments", {"name": "Care"})
    case = admin.post("/cases", {"customer": {"emails": ["x@example.com"]}, "body": "Help"}).json()
    with db.connect() as conn:
        try:
            conn.execute(text("UPDATE cases SET owner_id = NULL WHERE id = :id"), {"id": case["id"]})
            conn.commit()
        except Exception as exc:  # the driver's IntegrityError, whichever database
            assert "null" in str(exc).lower()
        else:
            raise AssertionError("the database accepted a case with no owner")
    assert admin.get(f"/cases/{case['id']}").json()["owner"]["name"] == "Ada Admin"
