"""P8 through the HTTP API: offers within authority apply at once, above it a supervisor of the
case's department decides, the customer hears the decision, and a waiting approval is chased."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownwell.worker import run_jobs

NOTE = "Kettle arrived cracked; customer already waited a week"
SECRET = "Bank already reversed the charge, see ticket 4411"


def _outbox(api, **params):
    return api.get("/outbox", limit=200, **params).json()["items"]


def _person(admin, as_token, *, name, email, role, departments, authority=None):
    body = {"name": name, "email": email, "role": role, "department_ids": [d["id"] for d in departments]}
    if authority:
        body["authority"] = authority
    staff = admin.post("/staff", body)
    assert staff.status_code == 201, staff.text
    token = admin.post(f"/staff/{staff.json()['id']}/tokens").json()["token"]
    return staff.json(), as_token(token)


@pytest.fixture
def org(admin, as_token):
    """Care answers for the case; Billing is another department. The case is made before the
    supervisors exist, so routing gives it to Noor, the one Care agent."""
    care = admin.post("/departments", {"name": "Care"}).json()
    billing = admin.post("/departments", {"name": "Billing"}).json()
    noor, noor_api = _person(
        admin,
        as_token,
        name="Noor Haddad",
        email="noor@acme.test",
        role="agent",
        departments=[care],
        authority={"refund": "50.00", "credit": 30, "replacement": 100, "goodwill": 20},
    )
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Kai Lund", "emails": ["kai@example.com"]},
            "subject": "Cracked kettle",
            "body": "My kettle arrived cracked.",
            "kind": "complaint",
            "caused_by_department_id": care["id"],
        },
    ).json()
    assert case["owner"]["id"] == noor["id"]
    vera, vera_api = _person(
        admin, as_token, name="Vera Boss", email="vera@acme.test", role="supervisor", departments=[care]
    )
    otto, otto_api = _person(
        admin, as_token, name="Otto Other", email="otto@acme.test", role="supervisor", departments=[billing]
    )
    return {
        "care": care,
        "case": case,
        "noor": noor,
        "noor_api": noor_api,
        "vera": vera,
        "vera_api": vera_api,
        "otto": otto,
        "otto_api": otto_api,
    }


def _offer(api, case_id, **fields):
    body = {"type": "refund", "amount": "120.00", "currency": "EUR", "note": NOTE} | fields
    return api.post(f"/cases/{case_id}/offers", body)


def _messages(admin, case_id, kind):
    return [m for m in _outbox(admin, case_id=case_id) if m["kind"] == kind]


def test_within_authority_is_applied_at_once_and_the_customer_told(admin, org):
    case = org["case"]
    made = _offer(org["noor_api"], case["id"], amount="40.00")
    assert made.status_code == 201, made.text
    offer = made.json()
    assert offer["status"] == "approved"
    assert offer["amount"] == "40.00" and offer["currency"] == "EUR" and offer["type"] == "refund"
    assert offer["proposed_by"] == {"id": org["noor"]["id"], "name": "Noor Haddad"}
    assert offer["decided_by"] == offer["proposed_by"]
    assert offer["decided_at"] == offer["created_at"] == "2026-03-02T09:00:00Z"

    [told] = _messages(admin, case["id"], "offer_applied")
    assert told["recipient"] == "kai@example.com"
    assert "we are refunding you 40.00 EUR" in told["body"]
    assert "Noor Haddad" in told["body"]  # the owner writes
    assert NOTE not in told["body"]  # the reason is for colleagues, not the customer

    # Store credit is measured against the `credit` limit (30), not the refund limit (50).
    credit = _offer(org["noor_api"], case["id"], type="store_credit", amount=25).json()
    assert credit["status"] == "approved"
    over = _offer(org["noor_api"], case["id"], type="store_credit", amount="35").json()
    assert over["status"] == "pending_approval"

    listed = org["noor_api"].get(f"/cases/{case['id']}/offers").json()["items"]
    assert [(o["id"], o["status"]) for o in listed] == [
        (offer["id"], "approved"),
        (credit["id"], "approved"),
        (over["id"], "pending_approval"),
    ]
    customer_view = [e for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    applied = [e for e in customer_view if e["kind"] == "offer_applied"]
    assert [e["visibility"] for e in applied] == ["customer", "customer"]


def test_above_authority_waits_for_a_supervisor_of_the_case_department(admin, org, clock):
    case, noor_api, vera_api, otto_api = org["case"], org["noor_api"], org["vera_api"], org["otto_api"]
    offer = _offer(noor_api, case["id"]).json()
    assert offer["status"] == "pending_approval"
    assert offer["decided_by"] is None and offer["decided_at"] is None
    assert offer["approval_due_at"] == "2026-03-02T13:00:00Z"  # the 4-hour approval SLA
    assert _messages(admin, case["id"], "offer_applied") == []  # nothing promised yet

    # On Vera's agenda (she supervises Care), not on Otto's (Billing) nor Noor's.
    vera_day = vera_api.get("/agenda").json()["items"]
    assert [(i["kind"], i["offer_id"], i["due_at"]) for i in vera_day if i["kind"] == "approval"] == [
        ("approval", offer["id"], "2026-03-02T13:00:00Z")
    ]
    assert "a refund of 120.00 EUR" in vera_day[0]["text"] and "Noor Haddad" in vera_day[0]["text"]
    assert [i for i in otto_api.get("/agenda").json()["items"] if i["kind"] == "approval"] == []
    assert [i for i in noor_api.get("/agenda").json()["items"] if i["kind"] == "approval"] == []

    # The approvals queue: Vera may decide it, Otto and Noor may not; an admin sees everything.
    def queue(api):
        return [o["id"] for o in api.get("/offers", status="pending_approval").json()["items"]]

    assert queue(vera_api) == [offer["id"]]
    assert queue(otto_api) == [] and queue(noor_api) == []
    assert queue(admin) == [offer["id"]]

    assert noor_api.post(f"/offers/{offer['id']}/approve").status_code == 403  # an agent
    assert otto_api.post(f"/offers/{offer['id']}/approve").status_code == 403  # another department

    # A supervisor above her own authority cannot wave her own offer through either.
    own = _offer(vera_api, case["id"], type="goodwill", amount="15.00").json()
    assert own["status"] == "pending_approval"  # supervisors have no authority until given some
    refused = vera_api.post(f"/offers/{own['id']}/approve", {"note": "fine by me"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert queue(vera_api) == [offer["id"]]  # her own is not in her queue

    clock.advance(timedelta(minutes=30))
    approved = vera_api.post(f"/offers/{offer['id']}/approve", {"note": "Good call"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == {"id": org["vera"]["id"], "name": "Vera Boss"}
    assert approved.json()["decided_at"] == "2026-03-02T09:30:00Z"
    assert approved.json()["decision_note"] == "Good call"

    [told] = _messages(admin, case["id"], "offer_applied")
    assert told["recipient"] == "kai@example.com" and "we are refunding you 120.00 EUR" in told["body"]
    assert "Good call" not in told["body"] and NOTE not in told["body"]
    assert [m["recipient"] for m in _messages(admin, case["id"], "offer_decided")] == ["noor@acme.test"]

    events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    # Events of one instant share a millisecond, so their order among themselves is not asserted.
    steps = {
        (e["kind"], e["actor"]["name"], e["data"].get("new"), e["at"])
        for e in events
        if e["kind"].startswith("offer_")
    }
    assert steps == {
        ("offer_proposed", "Noor Haddad", "pending_approval", "2026-03-02T09:00:00Z"),
        ("offer_proposed", "Vera Boss", "pending_approval", "2026-03-02T09:00:00Z"),
        ("offer_approved", "Vera Boss", "approved", "2026-03-02T09:30:00Z"),
        ("offer_applied", "Vera Boss", None, "2026-03-02T09:30:00Z"),
    }
    approved_event = next(e for e in events if e["kind"] == "offer_approved")
    assert approved_event["data"]["old"] == "pending_approval"
    assert approved_event["data"]["proposed_by"]["name"] == "Noor Haddad"

    # Decided once: a second decision is a conflict, and nothing more goes to the customer.
    again = vera_api.post(f"/offers/{offer['id']}/approve")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    assert vera_api.post(f"/offers/{offer['id']}/reject", {"note": "changed my mind"}).status_code == 409
    assert len(_messages(admin, case["id"], "offer_applied")) == 1
    assert (
        queue(vera_api) == []
        and [i for i in vera_api.get("/agenda").json()["items"] if i["kind"] == "approval"] == []
    )

    # An admin may decide what the supervisor proposed.
    assert admin.post(f"/offers/{own['id']}/approve").json()["status"] == "approved"


def test_rejection_needs_a_note_and_tells_the_customer_kindly(admin, org):
    case, vera_api = org["case"], org["vera_api"]
    offer = _offer(org["noor_api"], case["id"], type="replacement", amount="180.00").json()
    # No body at all, no note, a blank note: each refused, naming the note.
    for body in (None, {}, {"note": "   "}):
        refused = vera_api.post(f"/offers/{offer['id']}/reject", body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "note"
    assert admin.get(f"/offers/{offer['id']}").json()["status"] == "pending_approval"

    rejected = vera_api.post(f"/offers/{offer['id']}/reject", {"note": SECRET})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_note"] == SECRET

    [told] = _messages(admin, case["id"], "offer_declined")
    assert told["recipient"] == "kai@example.com"
    assert "decided not to give" in told["body"] and "a replacement worth 180.00 EUR" in told["body"]
    assert "I am sorry" in told["body"]
    assert told["body"].rstrip().endswith("Your case owner") and "Noor Haddad" in told["body"]
    assert SECRET not in told["body"] and NOTE not in told["body"] and "Vera" not in told["body"]
    assert _messages(admin, case["id"], "offer_applied") == []
    # Noor, who proposed it and owns the case, is told the decision and the reason.
    [colleague] = _messages(admin, case["id"], "offer_decided")
    assert colleague["recipient"] == "noor@acme.test" and SECRET in colleague["body"]
    assert "Vera Boss rejected a replacement worth 180.00 EUR" in colleague["subject"]

    events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    rejected_event = next(e for e in events if e["kind"] == "offer_rejected")
    assert rejected_event["actor"]["name"] == "Vera Boss" and rejected_event["visibility"] == "internal"
    assert rejected_event["data"]["old"] == "pending_approval" and rejected_event["data"]["new"] == "rejected"
    declined = next(e for e in events if e["kind"] == "offer_declined")
    assert declined["visibility"] == "customer" and SECRET not in declined["text"]
    assert vera_api.post(f"/offers/{offer['id']}/approve").status_code == 409


def test_an_approval_waiting_past_the_sla_reminds_the_supervisor_once(
    admin, org, clock, session_factory, settings
):
    # Not attributed to a department: the owner's department (Care) decides.
    case = admin.post(
        "/cases", {"customer": {"emails": ["lea@example.com"]}, "body": "Charged twice", "kind": "complaint"}
    ).json()
    assert case["owner"]["id"] == org["noor"]["id"] and case["caused_by_department_id"] is None
    offer = _offer(org["noor_api"], case["id"], type="goodwill", amount="45.50").json()
    assert offer["status"] == "pending_approval"
    assert [o["id"] for o in org["vera_api"].get("/offers").json()["items"]] == [offer["id"]]

    def reminders():
        return [m for m in _outbox(admin) if m["kind"] == "approval_reminder"]

    clock.advance(timedelta(hours=3, minutes=59))
    run_jobs(session_factory, clock, settings)
    assert reminders() == []  # still within the 4 hours

    clock.advance(timedelta(minutes=2))
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    [reminder] = reminders()
    assert reminder["recipient"] == "vera@acme.test"
    assert "a goodwill gesture of 45.50 EUR" in reminder["subject"]
    assert reminder["case_id"] == case["id"] and NOTE in reminder["body"]

    # Still undecided a day later: no second reminder; the agenda keeps showing it, overdue.
    clock.advance(timedelta(hours=24))
    run_jobs(session_factory, clock, settings)
    assert len(reminders()) == 1
    overdue = [i for i in org["vera_api"].get("/agenda").json()["items"] if i["kind"] == "approval"]
    assert [i["offer_id"] for i in overdue] == [offer["id"]]


def test_with_no_supervisor_in_the_department_the_admins_decide(
    admin, as_token, org, clock, session_factory, settings
):
    shop = admin.post("/departments", {"name": "Shop"}).json()
    _sam, sam_api = _person(
        admin, as_token, name="Sam Shop", email="sam@acme.test", role="agent", departments=[shop]
    )
    case = admin.post(
        "/cases",
        {
            "customer": {"emails": ["ivo@example.com"]},
            "body": "Wrong size",
            "caused_by_department_id": shop["id"],
        },
    ).json()
    offer = _offer(sam_api, case["id"], amount="10.00").json()
    assert offer["status"] == "pending_approval"  # Sam has no authority
    assert [i["offer_id"] for i in admin.get("/agenda").json()["items"] if i["kind"] == "approval"] == [
        offer["id"]
    ]
    assert [i for i in org["vera_api"].get("/agenda").json()["items"] if i["kind"] == "approval"] == []
    assert org["vera_api"].post(f"/offers/{offer['id']}/approve").status_code == 403
    clock.advance(timedelta(hours=5))
    run_jobs(session_factory, clock, settings)
    assert [m["recipient"] for m in _outbox(admin) if m["kind"] == "approval_reminder"] == [
        "ada@ownwell.test"
    ]


def test_raised_authority_applies_at_once(admin, org):
    patched = admin.patch(f"/staff/{org['noor']['id']}", {"authority": {"refund": "150.00"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["authority"]["refund"] == "150.00"
    assert (
        org["noor_api"].patch(f"/staff/{org['noor']['id']}", {"authority": {"refund": 9999}}).status_code
        == 403
    )
    assert _offer(org["noor_api"], org["case"]["id"]).json()["status"] == "approved"
    # A solved case gets no new offers until it is reopened.
    admin.post(f"/cases/{org['case']['id']}/resolve", {"summary": "Refunded in full."})
    late = _offer(org["noor_api"], org["case"]["id"], amount="5.00")
    assert late.status_code == 409 and late.json()["error"]["code"] == "case_not_active"
    assert len(admin.get(f"/cases/{org['case']['id']}/offers").json()["items"]) == 1


BAD_OFFERS = [
    ({"amount": "-5.00"}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": "10.005"}, "amount"),
    ({"amount": "lots"}, "amount"),
    ({"type": "voucher"}, "type"),
    ({"currency": "eur"}, "currency"),
    ({"currency": "EURO"}, "currency"),
    ({"currency": "E1R"}, "currency"),
    ({"note": " "}, "note"),
    ({"surprise": 1}, "surprise"),
]


def test_bad_offers_are_refused_naming_the_field(admin, org):
    # One organisation for all the cases: each refusal is checked on its own, nothing is stored.
    case = org["case"]
    for change, field in BAD_OFFERS:
        refused = _offer(org["noor_api"], case["id"], **change)
        assert refused.status_code == 422, (change, refused.text)
        assert refused.json()["error"]["field"] == field, change
    assert org["noor_api"].get(f"/cases/{case['id']}/offers").json()["items"] == []
    assert [
        e for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"] if "offer" in e["kind"]
    ] == []


def test_unknown_ids_and_queue_filters(admin, as_token, org):
    missing = _offer(org["noor_api"], "cas_00000000000000000000000000")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "case_id"
    assert _offer(org["noor_api"], "not-a-case").json()["error"]["field"] == "case_id"
    assert admin.get("/cases/not-a-case/offers").status_code == 404
    assert admin.post("/offers/off_00000000000000000000000000/approve").status_code == 404
    wrong = admin.get("/offers", status="approved")
    assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "status"
    assert admin.get("/offers", status="nonsense").json()["error"]["field"] == "status"
    # Someone who is neither owner nor supervisor cannot make offers on the case.
    other = admin.post("/staff", {"name": "Al Agent", "email": "al@acme.test", "role": "agent"}).json()
    al_api = as_token(admin.post(f"/staff/{other['id']}/tokens").json()["token"])
    assert _offer(al_api, org["case"]["id"], amount="1.00").status_code == 403
