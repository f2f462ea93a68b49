"""Cases: routing, cadence, status machine, resolve and reopen, through the API."""

from __future__ import annotations

from datetime import timedelta


def _staff(admin, name, email, role="agent", departments=(), on_duty=True):
    response = admin.post(
        "/staff",
        {"name": name, "email": email, "role": role, "department_ids": list(departments), "on_duty": on_duty},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _case(admin, email="kim@example.com", **extra):
    response = admin.post("/cases", {"customer": {"emails": [email]}, "body": "It broke again.", **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_routing_prefers_department_then_personal_contact_then_least_loaded(admin):
    billing = admin.post("/departments", {"name": "Billing"}).json()
    busy = _staff(admin, "Bea Busy", "bea@acme.test", departments=[billing["id"]])
    free = _staff(admin, "Fred Free", "fred@acme.test", departments=[billing["id"]])
    _staff(admin, "Otto Off", "otto@acme.test", departments=[billing["id"]], on_duty=False)
    owners = [
        _case(admin, f"c{i}@example.com", caused_by_department_id=billing["id"])["owner"]["id"]
        for i in range(4)
    ]
    # Least-loaded first, ties broken by id; the off-duty member never gets one.
    assert sorted(owners) == sorted([busy["id"], free["id"]] * 2)

    contact = _staff(admin, "Pia Personal", "pia@acme.test")
    customer = admin.post(
        "/customers", {"emails": ["vip@example.com"], "personal_contact_id": contact["id"]}
    ).json()
    assert _case(admin, "vip@example.com")["owner"]["id"] == contact["id"]
    # P2 wins over the personal contact: the department that caused it owns it.
    attributed = _case(admin, "vip@example.com", caused_by_department_id=billing["id"])
    assert attributed["owner"]["id"] in {busy["id"], free["id"]}
    assert attributed["customer_id"] == customer["id"]
    timeline = admin.get(f"/cases/{attributed['id']}/timeline").json()["items"]
    assert timeline[0]["data"]["routed_by"] == "department"


def test_nobody_on_duty_is_a_clear_conflict(admin):
    admin.patch(f"/staff/{admin.get('/staff').json()['items'][0]['id']}", {"on_duty": False})
    response = admin.post("/cases", {"customer": {"emails": ["x@example.com"]}, "body": "Hello?"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_owner_available"
    assert admin.get("/customers", identifier="x@example.com").json()["items"] == []


def test_customer_visible_update_moves_cadence_internal_note_does_not(admin, clock):
    case = _case(admin, kind="request")
    assert case["next_update_due"] == "2026-03-04T09:00:00Z"  # requests: every 48 hours
    clock.advance(timedelta(hours=5))
    note = admin.post(
        f"/cases/{case['id']}/messages", {"body": "Checked the logs.", "visibility": "internal"}
    )
    assert note.json()["next_update_due"] == "2026-03-04T09:00:00Z"
    reply = admin.post(f"/cases/{case['id']}/messages", {"body": "We found the fault and are fixing it."})
    assert reply.status_code == 201
    assert reply.json()["next_update_due"] == "2026-03-04T14:00:00Z"
    outbox = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert [m["kind"] for m in outbox] == ["reply", "acknowledgement"]
    assert all(m["status"] == "held" for m in outbox)  # no SMTP server configured: held, not lost


def test_cadence_policy_applies_to_new_windows(admin):
    assert admin.put("/cadence-policies/complaint", {"update_every_minutes": 120}).status_code == 200
    case = _case(admin, kind="complaint")
    assert case["next_update_due"] == "2026-03-02T11:00:00Z"
    policies = {p["kind"]: p["update_every_minutes"] for p in admin.get("/cadence-policies").json()}
    assert policies == {"complaint": 120, "request": 2880, "question": 1440}


def test_waiting_on_customer_and_their_reply(admin, as_token):
    case = _case(admin)
    waiting = admin.post(
        f"/cases/{case['id']}/messages", {"body": "Which colour was it?", "wait_for_customer": True}
    )
    assert waiting.json()["status"] == "waiting_on_customer"
    # The customer's answer comes in through a channel, which speaks with an integrator token.
    gateway = _staff(admin, "Chat Gateway", "gateway@acme.test", on_duty=False)
    made = admin.post(f"/staff/{gateway['id']}/tokens", {"scope": "integrator"})
    channel = as_token(made.json()["token"])
    answer = channel.post(f"/cases/{case['id']}/messages", {"body": "The blue one.", "from_customer": True})
    assert answer.json()["status"] == "open"
    events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    assert events[-1]["kind"] == "message_in"
    assert events[-1]["actor"]["type"] == "customer"


def test_resolve_and_reopen_keep_the_same_owner(admin, clock):
    case = _case(admin)
    owner = case["owner"]
    staff_before = admin.get(f"/staff/{owner['id']}").json()["open_case_count"]
    resolved = admin.post(
        f"/cases/{case['id']}/resolve",
        {"summary": "Sent a new charger.", "next_issue_tip": "Unplug it at night."},
    ).json()
    assert resolved["status"] == "resolved" and resolved["next_update_due"] is None
    assert admin.get(f"/staff/{owner['id']}").json()["open_case_count"] == staff_before - 1
    assert admin.post(f"/cases/{case['id']}/resolve", {"summary": "again"}).status_code == 409
    refused = admin.post(f"/cases/{case['id']}/messages", {"body": "more"})
    assert refused.status_code == 409
    message = next(
        m for m in admin.get("/outbox", case_id=case["id"]).json()["items"] if m["kind"] == "resolution"
    )
    assert "Sent a new charger." in message["body"] and "Unplug it at night." in message["body"]

    clock.advance(timedelta(days=2))
    reopened = admin.post(f"/cases/{case['id']}/reopen", {"reason": "The new charger failed too."}).json()
    assert reopened["status"] == "open"
    assert reopened["owner"] == owner
    assert reopened["next_update_due"] == "2026-03-05T09:00:00Z"
    assert admin.get(f"/staff/{owner['id']}").json()["open_case_count"] == staff_before
    assert admin.post(f"/cases/{case['id']}/reopen", {"reason": "x"}).status_code == 409


def test_attribution_is_recorded(admin):
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    case = _case(admin)
    patched = admin.patch(
        f"/cases/{case['id']}", {"caused_by_department_id": shipping["id"], "kind": "complaint"}
    )
    assert patched.json()["caused_by_department_id"] == shipping["id"]
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert "attributed" in kinds and "kind_changed" in kinds
    listed = admin.get("/cases", caused_by_department_id=shipping["id"]).json()["items"]
    assert [c["id"] for c in listed] == [case["id"]]


def test_commitment_keep_and_renegotiate(admin, clock):
    case = _case(admin)
    due = (clock.now() + timedelta(hours=4)).isoformat()
    promise = admin.post(
        f"/cases/{case['id']}/commitments", {"text": "Refund by tonight", "due_at": due}
    ).json()
    assert promise["status"] == "open" and promise["owner_id"] == case["owner"]["id"]
    later = (clock.now() + timedelta(days=1)).isoformat()
    moved = admin.post(f"/commitments/{promise['id']}/renegotiate", {"due_at": later, "note": "Bank holiday"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "renegotiated"
    assert moved.json()["renegotiations"][0]["note"] == "Bank holiday"
    kept = admin.post(f"/commitments/{promise['id']}/keep").json()
    assert kept["status"] == "kept"
    assert admin.post(f"/commitments/{promise['id']}/keep").status_code == 409
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    assert admin.post(f"/cases/{case['id']}/commitments", {"text": "x", "due_at": past}).status_code == 422


def test_pagination_walks_every_case_once(admin):
    ids = {_case(admin, f"p{i}@example.com")["id"] for i in range(7)}
    seen, cursor = [], None
    while True:
        page = admin.get("/cases", limit=3, **({"cursor": cursor} if cursor else {})).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7
