"""Orders and fulfilment events through the API: creation, reading, idempotent events, the
batch endpoint's per-item answers, and bad input on every new endpoint."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import START

PROMISED = (START + timedelta(days=2)).isoformat()  # Wednesday 4 March, 09:00 UTC
NO_ORDER = "ord_" + "0" * 27
NO_DEPARTMENT = "dep_" + "0" * 27
NO_CUSTOMER = "cus_" + "0" * 27


def make_shop(admin, *, timezone: str = "Europe/Paris", do_not_contact: bool = False) -> dict:
    """A shipping department with one member, a front-line agent outside it, one customer."""
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    sam = admin.post(
        "/staff",
        {"name": "Sam Carter", "email": "sam@acme.test", "role": "agent", "department_ids": [shipping["id"]]},
    ).json()
    alex = admin.post("/staff", {"name": "Alex Moreau", "email": "alex@acme.test", "role": "agent"}).json()
    customer = admin.post(
        "/customers",
        {
            "name": "Rosa Díaz",
            "emails": ["rosa@example.com"],
            "preferences": {"timezone": timezone, "do_not_contact": do_not_contact},
        },
    ).json()
    return {"shipping": shipping, "sam": sam, "alex": alex, "customer": customer}


def make_order(admin, shop: dict, external_id: str = "A-1001", promised_by: str = PROMISED) -> dict:
    response = admin.post(
        "/orders",
        {
            "external_id": external_id,
            "customer_id": shop["customer"]["id"],
            "promised_by": promised_by,
            "department_id": shop["shipping"]["id"],
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def event(type_: str, at, **extra) -> dict:
    return {"type": type_, "occurred_at": at.isoformat(), **extra}


def test_create_read_and_list_orders(admin):
    shop = make_shop(admin)
    created = admin.post(
        "/orders",
        {
            "external_id": " B-2002 ",
            "customer": {"name": "Kim Lee", "emails": ["KIM@Example.com"]},
            "promised_by": "2026-03-05T12:00:00+01:00",
            "department_id": shop["shipping"]["id"],
        },
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["external_id"] == "B-2002"
    assert order["promised_by"] == "2026-03-05T11:00:00Z"
    assert order["status"] == "placed" and order["trouble_case_id"] is None
    assert order["events"] == [] and order["case_ids"] == []
    # The customer is recognised by the identifier, never created twice.
    kim = admin.get("/customers", identifier="kim@example.com").json()["items"]
    assert [c["id"] for c in kim] == [order["customer_id"]]
    again = admin.post(
        "/orders",
        {
            "external_id": "B-2003",
            "customer": {"emails": ["kim@example.com"]},
            "promised_by": PROMISED,
            "department_id": shop["shipping"]["id"],
        },
    ).json()
    assert again["customer_id"] == order["customer_id"]

    assert admin.get(f"/orders/{order['id']}").json() == order
    by_external = admin.get("/orders", external_id="B-2002").json()["items"]
    assert [o["id"] for o in by_external] == [order["id"]]
    by_customer = admin.get("/orders", customer_id=order["customer_id"]).json()["items"]
    assert [o["id"] for o in by_customer] == [again["id"], order["id"]]
    first = admin.get("/orders", limit=1).json()
    rest = admin.get("/orders", limit=5, cursor=first["next_cursor"]).json()
    assert len(first["items"]) == 1 and len(rest["items"]) == 1 and rest["next_cursor"] is None


def test_events_are_recorded_once_and_move_the_status(admin, clock):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    shipped = event("shipped", START, note="Left the warehouse")
    first = admin.post(f"/orders/{order['id']}/events", shipped)
    assert first.status_code == 201, first.text
    assert first.json()["type"] == "shipped" and first.json()["note"] == "Left the warehouse"
    replay = admin.post(f"/orders/{order['id']}/events", {**shipped, "note": "changed"})
    assert replay.status_code == 200
    assert replay.json() == first.json()
    # The same moment in another offset is the same event.
    same = event("shipped", START.astimezone(ZoneInfo("Asia/Tokyo")))
    assert admin.post(f"/orders/{order['id']}/events", same).status_code == 200
    # An earlier event arriving late does not move the status backwards.
    eta = (START + timedelta(days=1)).isoformat()
    for late_news in (
        event("delayed", START + timedelta(hours=2), eta=eta),
        event("delayed", START - timedelta(hours=2)),
    ):
        assert admin.post(f"/orders/{order['id']}/events", late_news).status_code == 201
    detail = admin.get(f"/orders/{order['id']}").json()
    assert [e["type"] for e in detail["events"]] == ["delayed", "shipped", "delayed"]
    assert detail["status"] == "delayed" and detail["eta"] == "2026-03-03T09:00:00Z"
    # An ETA before the promise is no trouble.
    assert detail["trouble_case_id"] is None and detail["case_ids"] == []
    assert (
        admin.post(f"/orders/{order['id']}/events", event("delivered", START + timedelta(days=1))).status_code
        == 201
    )
    detail = admin.get(f"/orders/{order['id']}").json()
    assert detail["status"] == "delivered" and detail["delivered_at"] == "2026-03-03T09:00:00Z"


def test_batch_answers_each_item(admin):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    make_order(admin, shop, external_id="A-1002")
    good = {"order_external_id": "A-1001", **event("shipped", START)}
    items = [
        good,
        {"order_external_id": "A-1002", **event("shipped", START, eta=PROMISED)},
        good,  # the same event twice in one batch
        {"order_external_id": "Z-404", **event("shipped", START)},
        {"order_external_id": "A-1001", "type": "shipped", "occurred_at": "2026-03-02T10:00:00"},
        {"order_external_id": "A-1001", "type": "teleported", "occurred_at": START.isoformat()},
        "not an object",
        {"order_external_id": "A-1001", "type": "delivered"},
        {"order_external_id": "A-1001", **event("delivered", START + timedelta(days=1)), "colour": "red"},
    ]
    response = admin.post("/order-events", {"items": items})
    assert response.status_code == 200, response.text
    answer = response.json()["items"]
    assert [a["index"] for a in answer] == list(range(len(items)))
    assert [a["status"] for a in answer] == [
        "accepted",
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert answer[2]["event_id"] == answer[0]["event_id"] and answer[0]["order_id"] == order["id"]
    fields = [a["error"]["field"] if a["error"] else None for a in answer]
    assert fields == [
        None,
        None,
        None,
        "items.3.order_external_id",
        "items.4.occurred_at",
        "items.5.type",
        "items.6",
        "items.7.occurred_at",
        "items.8.colour",
    ]
    assert answer[3]["error"]["code"] == "not_found"
    assert all(a["error"]["message"] for a in answer[3:])
    assert [e["type"] for e in admin.get(f"/orders/{order['id']}").json()["events"]] == ["shipped"]

    replay = admin.post("/order-events", {"items": items[:3]}).json()["items"]
    assert [a["status"] for a in replay] == ["duplicate"] * 3
    assert len(admin.get(f"/orders/{order['id']}").json()["events"]) == 1
    assert admin.post("/order-events", {"items": []}).json() == {"items": []}


@pytest.mark.parametrize(
    ("spoil", "status", "field"),
    [
        ({"promised_by": "2026-03-04T09:00:00"}, 422, "promised_by"),
        ({"promised_by": "next week"}, 422, "promised_by"),
        ({"external_id": "  "}, 422, "external_id"),
        ({"external_id": "x" * 101}, 422, "external_id"),
        ({"department_id": NO_DEPARTMENT}, 422, "department_id"),
        ({"customer_id": NO_CUSTOMER}, 422, "customer_id"),
        ({"customer_id": None}, 422, None),
        ({"customer": {"emails": ["not-an-email"]}, "customer_id": None}, 422, "customer.emails.0"),
        ({"customer": {"emails": []}, "customer_id": None}, 422, "customer.emails"),
        ({"shipped": True}, 422, "shipped"),
    ],
)
def test_bad_orders_are_refused_by_field(admin, spoil, status, field):
    shop = make_shop(admin)
    body = {
        "external_id": "A-1001",
        "customer_id": shop["customer"]["id"],
        "promised_by": PROMISED,
        "department_id": shop["shipping"]["id"],
    }
    body = {k: v for k, v in {**body, **spoil}.items() if v is not None}
    response = admin.post("/orders", body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["message"] and error["code"]
    assert admin.get("/orders").json()["items"] == []


def test_bad_events_and_references_are_refused(admin):
    shop = make_shop(admin)
    order = make_order(admin, shop)
    conflict = admin.post(
        "/orders",
        {
            "external_id": "A-1001",
            "customer": {"emails": ["new@example.com"]},
            "promised_by": PROMISED,
            "department_id": shop["shipping"]["id"],
        },
    )
    assert conflict.status_code == 409 and conflict.json()["error"]["field"] == "external_id"
    assert admin.get("/customers", identifier="new@example.com").json()["items"] == []  # nothing half-written

    path = f"/orders/{order['id']}/events"
    for body, field in [
        ({"type": "lost", "occurred_at": START.isoformat()}, "type"),
        ({"type": "shipped", "occurred_at": "2026-03-02T09:00:00"}, "occurred_at"),
        ({"type": "delayed", "occurred_at": START.isoformat(), "eta": "2026-03-09"}, "eta"),
        ({"type": "shipped"}, "occurred_at"),
        ({"type": "shipped", "occurred_at": START.isoformat(), "note": "x" * 2001}, "note"),
    ]:
        response = admin.post(path, body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field
    assert admin.get(f"/orders/{order['id']}").json()["events"] == []

    missing = admin.post(f"/orders/{NO_ORDER}/events", event("shipped", START))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert admin.get("/orders/not-an-id").status_code == 404
    too_many = [{"order_external_id": "A-1001", **event("shipped", START)}] * 1001
    over = admin.post("/order-events", {"items": too_many})
    assert over.status_code == 422 and over.json()["error"]["field"] == "items"
    assert admin.post("/order-events", {"items": "all of them"}).json()["error"]["field"] == "items"
    assert admin.get("/orders", cursor="AA").status_code == 422

    case = admin.post(
        "/cases", {"customer_id": shop["customer"]["id"], "body": "Where is it?", "order_id": NO_ORDER}
    )
    assert case.status_code == 422 and case.json()["error"]["field"] == "order_id"
    ok = admin.post(
        "/cases", {"customer_id": shop["customer"]["id"], "body": "Where is it?", "order_id": order["id"]}
    )
    assert ok.status_code == 201 and ok.json()["order_id"] == order["id"]


def test_a_failed_group_write_falls_back_to_one_by_one(admin, monkeypatch):
    """Quiet events are written together; if that write fails, each is redone on its own and the
    answer is the same."""
    from ownwell.orders import ingest

    shop = make_shop(admin)
    order = make_order(admin, shop)
    monkeypatch.setattr(ingest, "_write_group", lambda *args, **kwargs: False)
    items = [
        {"order_external_id": "A-1001", **event("shipped", START)},
        {"order_external_id": "A-1001", **event("shipped", START)},
        {"order_external_id": "A-1001", **event("exception", START + timedelta(hours=1))},
        {"order_external_id": "A-1001", **event("delivered", START + timedelta(days=1))},
    ]
    answer = admin.post("/order-events", {"items": items}).json()["items"]
    assert [a["status"] for a in answer] == ["accepted", "duplicate", "accepted", "accepted"]
    detail = admin.get(f"/orders/{order['id']}").json()
    assert [e["type"] for e in detail["events"]] == ["shipped", "exception", "delivered"]
    assert detail["status"] == "delivered" and detail["trouble_reason"] == "exception"


def test_a_group_write_that_fails_halfway_leaves_nothing_behind(admin, monkeypatch):
    """The events are inserted, then the orders' UPDATE fails: the savepoint takes the events back
    and each is written again on its own, once."""
    from ownwell.orders import ingest

    shop = make_shop(admin)
    order = make_order(admin, shop)
    real_insert_new = ingest.insert_new

    def insert_then_fail(session):
        real_insert_new(session)
        raise RuntimeError("the database went away after the INSERT")

    monkeypatch.setattr(ingest, "insert_new", insert_then_fail)
    delayed = event("delayed", START + timedelta(hours=1), eta=START.isoformat())  # still on time
    items = [
        {"order_external_id": "A-1001", **event("shipped", START)},
        {"order_external_id": "A-1001", **delayed},
    ]
    answer = admin.post("/order-events", {"items": items}).json()["items"]
    assert [a["status"] for a in answer] == ["accepted", "accepted"]
    detail = admin.get(f"/orders/{order['id']}").json()
    assert [e["type"] for e in detail["events"]] == ["shipped", "delayed"]
    assert detail["status"] == "delayed"


def test_a_failing_event_among_those_that_touch_cases_is_rejected_alone(admin, monkeypatch):
    """Events that open or touch a case go in one savepoint; when one of them fails, they are
    taken one by one: only that one is rejected, the others open their case once."""
    from ownwell.errors import Conflict
    from ownwell.orders import ingest

    shop = make_shop(admin)
    make_order(admin, shop, "A-1001")
    broken = make_order(admin, shop, "A-1002")
    real_record_event = ingest.service.record_event

    def fail_for_one_order(session, *, order, **kwargs):
        if order.id == broken["id"]:
            raise Conflict("nobody can take this order's case", code="no_owner_available")
        return real_record_event(session, order=order, **kwargs)

    monkeypatch.setattr(ingest.service, "record_event", fail_for_one_order)
    items = [
        {"order_external_id": "A-1001", **event("exception", START)},
        {"order_external_id": "A-1002", **event("exception", START)},
    ]
    answer = admin.post("/order-events", {"items": items}).json()["items"]
    assert [a["status"] for a in answer] == ["accepted", "rejected"]
    assert answer[1]["error"]["code"] == "no_owner_available"
    cases = admin.get("/cases", proactive="true").json()["items"]
    assert len(cases) == 1 and cases[0]["owner"]["name"] == "Sam Carter"
    assert [e["type"] for e in admin.get(f"/orders/{broken['id']}").json()["events"]] == []


def _counted_and_sent(session_factory, sam_id):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ownwell.notifications.models import OutboxMessage
    from ownwell.staff.models import Staff

    with session_factory() as session:
        count = session.scalar(select(Staff.open_case_count).where(Staff.id == sam_id))
        kinds = sorted(session.scalars(select(OutboxMessage.kind)))
    return count, kinds


def test_a_batch_that_opens_and_closes_cases_shares_its_writes_and_counts_right(
    admin, session_factory, caplog
):
    """An order's trouble and its delivery in one batch, beside another order's trouble: the
    case-touching events go together (in rounds, one event per order each), with nothing
    redone, and the owner's open cases, the cases and the messages come out as one by one."""
    shop = make_shop(admin)
    make_order(admin, shop, "A-1001")
    make_order(admin, shop, "A-1002")
    items = [
        {"order_external_id": "A-1001", **event("exception", START)},
        {"order_external_id": "A-1002", **event("exception", START)},
        {"order_external_id": "A-1001", **event("delivered", START + timedelta(hours=5))},
    ]
    with caplog.at_level("INFO", logger="ownwell.orders.ingest"):
        answer = admin.post("/order-events", {"items": items}).json()["items"]

    assert [a["status"] for a in answer] == ["accepted"] * 3
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]  # nothing redone
    cases = {c["order_id"]: c["status"] for c in admin.get("/cases", proactive="true").json()["items"]}
    assert sorted(cases.values()) == ["open", "resolved"]
    count, kinds = _counted_and_sent(session_factory, shop["sam"]["id"])
    assert count == 1  # opened two, resolved one
    assert kinds.count("proactive_notice") == 2 and kinds.count("resolution") == 1


def test_a_failure_while_writing_the_shared_counters_redoes_the_events_one_by_one(
    admin, session_factory, monkeypatch
):
    from ownwell.staff import repository as staff_repository

    shop = make_shop(admin)
    make_order(admin, shop, "A-1001")
    make_order(admin, shop, "A-1002")
    real_write = staff_repository._write_pending_counts
    failures = ["once"]

    def fail_once(session):  # type: ignore[no-untyped-def]
        if failures:
            failures.pop()
            raise RuntimeError("the counters' UPDATE failed")
        return real_write(session)

    monkeypatch.setattr(staff_repository, "_write_pending_counts", fail_once)
    items = [{"order_external_id": ext, **event("exception", START)} for ext in ("A-1001", "A-1002")]
    answer = admin.post("/order-events", {"items": items}).json()["items"]

    assert [a["status"] for a in answer] == ["accepted", "accepted"] and not failures
    assert len(admin.get("/cases", proactive="true").json()["items"]) == 2
    count, kinds = _counted_and_sent(session_factory, shop["sam"]["id"])
    assert count == 2 and kinds.count("proactive_notice") == 2


def test_a_batch_cut_off_by_a_database_restart_gets_503_and_stores_nothing(admin, monkeypatch):
    """Found by the soak: the group write's failure was taken for a bad item, each event was
    redone on a dead connection, and the batch got 500 with a traceback per step. An outage is
    not a bad item: the whole batch is answered 503 (send it again), as every other request is."""
    from sqlalchemy.exc import OperationalError

    from ownwell.orders import ingest

    shop = make_shop(admin)
    order = make_order(admin, shop)

    def connection_lost(session):
        raise OperationalError("INSERT INTO order_events ...", {}, Exception("server closed the connection"))

    with monkeypatch.context() as patched:
        patched.setattr(ingest, "insert_new", connection_lost)
        items = [{"order_external_id": "A-1001", **event("shipped", START)}]
        cut_off = admin.post("/order-events", {"items": items})
    assert cut_off.status_code == 503, cut_off.text
    assert cut_off.headers["retry-after"] == "5"
    assert admin.get(f"/orders/{order['id']}").json()["events"] == []
    again = admin.post("/order-events", {"items": items}).json()["items"]
    assert [a["status"] for a in again] == ["accepted"]
