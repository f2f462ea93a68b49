"""P3 through the API: an order in trouble gets one proactive case, owned by a member of the
department that fulfils it, and the customer hears it from us before they write."""

from __future__ import annotations

from datetime import timedelta

from ownwell.db import unit_of_work
from ownwell.orders.jobs import sweep_late
from tests.conftest import START
from tests.test_orders import PROMISED, event, make_order, make_shop

LATE_ETA = START + timedelta(days=5)  # after the promise (START + 2 days)
LATE_ETA_LOCAL = "Saturday 07 March 2026, 10:00 (Europe/Paris)"


def counts(admin, order: dict) -> tuple[int, int, int]:
    """(cases about the order, messages on them, events of the order)."""
    cases = admin.get("/cases", order_id=order["id"]).json()["items"]
    messages = sum(len(admin.get("/outbox", case_id=c["id"]).json()["items"]) for c in cases)
    return len(cases), messages, len(admin.get(f"/orders/{order['id']}").json()["events"])


def the_case(admin, order: dict) -> dict:
    cases = admin.get("/cases", order_id=order["id"]).json()["items"]
    assert len(cases) == 1, cases
    return cases[0]


def sweep(session_factory, clock, settings) -> int:
    with unit_of_work(session_factory) as session:
        return sweep_late(session, now=clock.now(), settings=settings)


def test_a_late_eta_opens_one_proactive_case_before_the_customer_writes(admin):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    delayed = event("delayed", START + timedelta(hours=1), eta=LATE_ETA.isoformat(), note="Storm at the hub")
    assert admin.post(f"/orders/{order['id']}/events", delayed).status_code == 201

    case = the_case(admin, order)
    assert case["proactive"] is True and case["channel"] == "proactive" and case["kind"] == "complaint"
    assert case["owner"] == {"id": shop["sam"]["id"], "name": "Sam Carter"}  # P2: the shipping member
    assert case["caused_by_department_id"] == shop["shipping"]["id"]
    detail = admin.get(f"/orders/{order['id']}").json()
    assert detail["trouble_case_id"] == case["id"] and detail["trouble_reason"] == "late_eta"
    assert detail["case_ids"] == [case["id"]] and detail["status"] == "delayed"

    messages = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert len(messages) == 1
    notice = messages[0]
    assert notice["kind"] == "proactive_notice" and notice["recipient"] == "rosa@example.com"
    assert notice["subject"] == "Your order A-1001 is late: I am on it"
    assert "Sam Carter" in notice["body"] and LATE_ETA_LOCAL in notice["body"]
    assert "Wednesday 04 March 2026, 10:00 (Europe/Paris) we promised" in notice["body"]
    # The first word on the case is ours, and nothing came in from the customer.
    timeline = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    assert timeline[0]["kind"] == "case_created" and timeline[0]["actor"] is None
    assert timeline[0]["visibility"] == "customer" and "A-1001" in timeline[0]["text"]
    assert not [e for e in timeline if e["kind"] == "message_in"]

    before = counts(admin, order)
    assert before == (1, 1, 1)
    assert admin.post(f"/orders/{order['id']}/events", delayed).status_code == 200
    batch = admin.post("/order-events", {"items": [{"order_external_id": "A-1001", **delayed}] * 2}).json()
    assert [i["status"] for i in batch["items"]] == ["duplicate", "duplicate"]
    assert counts(admin, order) == before


def test_an_exception_does_the_same_through_the_batch(admin, clock, session_factory, settings):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    item = {"order_external_id": "A-1001", **event("exception", START, note="Parcel damaged in transit")}
    answer = admin.post("/order-events", {"items": [item]}).json()["items"]
    assert answer[0]["status"] == "accepted"

    case = the_case(admin, order)
    assert case["proactive"] and case["owner"]["id"] == shop["sam"]["id"]
    [notice] = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert notice["subject"] == "A problem with your order A-1001: I am on it"
    assert "Parcel damaged in transit" in notice["body"] and "Sam Carter" in notice["body"]
    # No ETA: the customer is told when they will hear next, in their own time zone.
    assert "by Tuesday 03 March 2026, 10:00 (Europe/Paris) at the latest" in notice["body"]
    assert admin.get(f"/orders/{order['id']}").json()["trouble_reason"] == "exception"

    before = counts(admin, order)
    assert admin.post("/order-events", {"items": [item]}).json()["items"][0]["status"] == "duplicate"
    # The promise passing later is the same problem: no second case.
    clock.advance(timedelta(days=3))
    assert sweep(session_factory, clock, settings) == 0
    assert counts(admin, order) == before


def test_a_promise_passing_with_no_delivery_is_found_by_the_sweep(admin, clock, session_factory, settings):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    delivered = make_order(admin, shop, external_id="A-1002")
    cancelled = make_order(admin, shop, external_id="A-1003")
    on_time = make_order(
        admin, shop, external_id="A-1004", promised_by=(START + timedelta(days=9)).isoformat()
    )
    admin.post(f"/orders/{delivered['id']}/events", event("delivered", START + timedelta(days=1)))
    admin.post(f"/orders/{cancelled['id']}/events", event("cancelled", START))
    admin.post(f"/orders/{order['id']}/events", event("shipped", START))

    assert sweep(session_factory, clock, settings) == 0  # nothing is late yet
    clock.set(START + timedelta(days=2, hours=1))  # one hour past the promise
    assert sweep(session_factory, clock, settings) == 1

    case = the_case(admin, order)
    assert case["proactive"] and case["owner"]["name"] == "Sam Carter"
    [notice] = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert "We promised to deliver your order A-1001 by Wednesday 04 March 2026, 10:00" in notice["body"]
    assert "by Thursday 05 March 2026, 11:00 (Europe/Paris) at the latest" in notice["body"]
    assert admin.get(f"/orders/{order['id']}").json()["trouble_reason"] == "promise_passed"
    for other in (delivered, cancelled, on_time):
        assert admin.get("/cases", order_id=other["id"]).json()["items"] == []

    before = counts(admin, order)
    assert sweep(session_factory, clock, settings) == 0
    assert counts(admin, order) == before


def test_the_customers_own_case_about_the_order_is_used(admin):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    own = admin.post(
        "/cases",
        {"customer_id": shop["customer"]["id"], "body": "Is my parcel on its way?", "order_id": order["id"]},
    ).json()
    owner = own["owner"]

    delayed = event("delayed", START, eta=LATE_ETA.isoformat())
    assert admin.post(f"/orders/{order['id']}/events", delayed).status_code == 201
    case = the_case(admin, order)
    assert case["id"] == own["id"] and case["proactive"] is False
    assert admin.get(f"/orders/{order['id']}").json()["trouble_case_id"] == own["id"]
    kinds = [m["kind"] for m in admin.get("/outbox", case_id=own["id"]).json()["items"]]
    assert kinds == ["proactive_notice", "acknowledgement"]
    notice = admin.get("/outbox", case_id=own["id"]).json()["items"][0]
    assert owner["name"] in notice["body"] and LATE_ETA_LOCAL in notice["body"]
    problem = admin.get(f"/cases/{own['id']}/timeline").json()["items"][-1]
    assert problem["kind"] == "order_problem" and problem["visibility"] == "customer"

    # Delivery on the customer's own case: they are told, the owner decides when it is solved.
    admin.post(f"/orders/{order['id']}/events", event("delivered", START + timedelta(days=4)))
    assert admin.get(f"/cases/{own['id']}").json()["status"] == "open"
    messages = admin.get("/outbox", case_id=own["id"]).json()["items"]
    assert [m["kind"] for m in messages][:2] == ["order_delivered", "order_delivered"]
    owner_email = admin.get(f"/staff/{owner['id']}").json()["email"]
    assert {m["recipient"] for m in messages[:2]} == {"rosa@example.com", owner_email}


def test_delivery_closes_the_loop(admin, clock):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    admin.post(f"/orders/{order['id']}/events", event("delayed", START, eta=LATE_ETA.isoformat()))
    case = the_case(admin, order)
    clock.advance(timedelta(days=5))
    delivered = event("delivered", START + timedelta(days=4, hours=6))
    assert admin.post(f"/orders/{order['id']}/events", delivered).status_code == 201

    closed = admin.get(f"/cases/{case['id']}").json()
    assert closed["status"] == "resolved"
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert sorted(kinds[-2:]) == ["order_delivered", "resolved"]  # same request: same millisecond
    messages = {m["kind"]: m for m in admin.get("/outbox", case_id=case["id"]).json()["items"]}
    assert set(messages) == {"proactive_notice", "resolution", "order_delivered"}
    assert "delivered on Friday 06 March 2026, 16:00 (Europe/Paris)" in messages["resolution"]["body"]
    assert messages["resolution"]["recipient"] == "rosa@example.com"
    assert messages["order_delivered"]["recipient"] == "sam@acme.test"
    assert admin.get(f"/staff/{shop['sam']['id']}").json()["open_case_count"] == 0

    before = counts(admin, order)
    assert admin.post(f"/orders/{order['id']}/events", delivered).status_code == 200
    admin.post(f"/orders/{order['id']}/events", event("delivered", START + timedelta(days=4, hours=7)))
    assert counts(admin, order)[:2] == before[:2]


def test_news_after_the_first_notice_updates_the_same_case(admin, clock):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    admin.post(f"/orders/{order['id']}/events", event("delayed", START, eta=LATE_ETA.isoformat()))
    case = the_case(admin, order)
    clock.advance(timedelta(hours=3))
    later = event("delayed", START + timedelta(hours=2), eta=(LATE_ETA + timedelta(days=1)).isoformat())
    admin.post(f"/orders/{order['id']}/events", later)
    admin.post(f"/orders/{order['id']}/events", event("shipped", START + timedelta(hours=2)))
    assert the_case(admin, order)["id"] == case["id"]
    kinds = [m["kind"] for m in admin.get("/outbox", case_id=case["id"]).json()["items"]]
    assert kinds == ["order_update", "proactive_notice"]

    # Trouble after the owner solved the case: the same owner picks it up again.
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Carrier confirmed the new date."})
    admin.post(f"/orders/{order['id']}/events", event("exception", START + timedelta(hours=3), note="Lost"))
    reopened = the_case(admin, order)
    assert reopened["status"] == "open" and reopened["owner"]["id"] == shop["sam"]["id"]


def test_a_customer_who_asked_for_no_contact_gets_nothing_and_the_timeline_says_why(admin):
    shop = make_shop(admin, do_not_contact=True)
    order = make_order(admin, shop)
    admin.post(f"/orders/{order['id']}/events", event("exception", START, note="Address not found"))
    case = the_case(admin, order)
    assert admin.get("/outbox", case_id=case["id"]).json()["items"] == []
    suppressed = [
        e
        for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]
        if e["kind"] == "message_suppressed"
    ]
    assert len(suppressed) == 1 and suppressed[0]["data"]["reason"] == "do_not_contact"
    assert suppressed[0]["visibility"] == "internal"


def test_one_batch_takes_an_order_from_shipped_through_trouble_to_delivered(admin):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    quiet = make_order(admin, shop, external_id="A-1002")
    items = [
        {"order_external_id": "A-1001", **event("shipped", START)},
        {"order_external_id": "A-1002", **event("shipped", START)},
        {
            "order_external_id": "A-1001",
            **event("delayed", START + timedelta(hours=1), eta=LATE_ETA.isoformat()),
        },
        {"order_external_id": "A-1002", **event("delayed", START + timedelta(hours=1), eta=PROMISED)},
        {"order_external_id": "A-1001", **event("shipped", START)},
        {"order_external_id": "A-1001", **event("delivered", START + timedelta(days=4))},
    ]
    answer = admin.post("/order-events", {"items": items}).json()["items"]
    assert [a["status"] for a in answer] == ["accepted"] * 4 + ["duplicate", "accepted"]
    case = the_case(admin, order)
    assert case["status"] == "resolved" and case["proactive"]
    kinds = sorted(m["kind"] for m in admin.get("/outbox", case_id=case["id"]).json()["items"])
    assert kinds == ["order_delivered", "proactive_notice", "resolution"]
    assert admin.get(f"/orders/{order['id']}").json()["status"] == "delivered"
    calm = admin.get(f"/orders/{quiet['id']}").json()
    assert calm["status"] == "delayed" and calm["eta"] == "2026-03-04T09:00:00Z" and calm["case_ids"] == []
