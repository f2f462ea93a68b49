"""Incidents (P11) through the API: groups with concierges, one outbox row per contactable
customer for every message, delivery counts that follow the outbox through a real SMTP server,
replies routed to the concierge's case, orders as the way in, roles and bad input."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from ownwell.customers.models import Customer, CustomerIdentifier
from ownwell.db import unit_of_work
from ownwell.incidents.jobs import fan_out_pending
from ownwell.incidents.models import IncidentCustomer
from ownwell.notifications.models import OutboxMessage
from ownwell.staff.models import Role
from ownwell.worker import run_once
from tests.conftest import START, Api, make_staff_token

NO_DEPARTMENT = "dep_" + "0" * 27
NO_STAFF = "stf_" + "0" * 27
NO_CUSTOMER = "cus_" + "0" * 27
NO_INCIDENT = "inc_" + "0" * 27
UNKNOWN_CUSTOMER = "cus_" + "0" * 26  # shaped like an id: only the database can tell
MESSAGE = (
    "Our payment provider charged some cards twice this morning. We are refunding every double charge now."
)


@pytest.fixture
def smtp_settings(settings, mailsink):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": mailsink.port, "mail_from": "care@acme.test"}
    )


def make_department(admin: Api, *, members: int, off_duty: int = 0) -> tuple[dict, list[dict]]:
    """Billing with `members` on-duty agents (in creation order) and some off duty."""
    billing = admin.post("/departments", {"name": "Billing"}).json()
    staff = []
    for i in range(members + off_duty):
        person = admin.post(
            "/staff",
            {
                "name": f"Concierge {i + 1}",
                "email": f"concierge{i + 1}@acme.test",
                "role": "agent",
                "department_ids": [billing["id"]],
                "on_duty": i < members,
            },
        )
        assert person.status_code == 201, person.text
        staff.append(person.json())
    return billing, staff[:members]


def customer_id(i: int) -> str:
    return f"cus_9{i:025d}"


def bulk_customers(session_factory, n: int, *, shape: Any = None) -> list[str]:  # type: ignore[no-untyped-def]
    """n customers with one e-mail each, written with two Core inserts (not n API calls);
    `shape(i)` overrides columns of customer i, `None` for an e-mail-less customer."""
    customers, identifiers = [], []
    for i in range(n):
        row = {
            "id": customer_id(i),
            "name": f"Customer {i}",
            "personal_contact_id": None,
            "preferred_channel": "email",
            "quiet_start": None,
            "quiet_end": None,
            "timezone": "Europe/Paris",
            "language": None,
            "topics": [],
            "do_not_contact": False,
            "created_at": START,
            "updated_at": START,
        }
        extra = shape(i) if shape else {}
        if extra.pop("email", True):
            identifiers.append(
                {
                    "id": f"cid_9{i:025d}",
                    "customer_id": row["id"],
                    "kind": "email",
                    "system": "",
                    "value": f"c{i}@example.com",
                }
            )
        customers.append({**row, **extra})
    with unit_of_work(session_factory) as session:
        session.execute(insert(Customer.__table__), customers)
        session.execute(insert(CustomerIdentifier.__table__), identifiers)
    return [c["id"] for c in customers]


def declare(admin: Api, billing: dict, owner_id: str, **names: Any) -> dict:
    response = admin.post(
        "/incidents",
        {
            "title": "Double card charges",
            "caused_by_department_id": billing["id"],
            "owner_id": owner_id,
            "message": MESSAGE,
            **names,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def outbox_rows(session_factory, kind: str) -> list[Any]:  # type: ignore[no-untyped-def]
    with unit_of_work(session_factory) as session:
        return list(
            session.execute(
                select(
                    OutboxMessage.recipient_customer_id, OutboxMessage.channel, OutboxMessage.status
                ).where(OutboxMessage.kind == kind)
            )
        )


def test_ten_thousand_customers_get_groups_concierges_and_one_message_each(
    admin, session_factory, clock, settings
):
    billing, concierges = make_department(admin, members=3, off_duty=1)
    supervisor = admin.post(
        "/staff", {"name": "Vera Lind", "email": "vera@acme.test", "role": "supervisor"}
    ).json()

    def shape(i: int) -> dict[str, Any]:
        if i % 500 == 7:
            return {"do_not_contact": True}
        if i % 1000 == 3:
            return {"email": None}  # nothing but the portal reaches them
        return {}

    ids = bulk_customers(session_factory, 10_000, shape=shape)
    silent = {ids[i] for i in range(10_000) if i % 500 == 7}
    portal_only = {ids[i] for i in range(10_000) if i % 1000 == 3}

    started = time.perf_counter()
    incident = declare(admin, billing, supervisor["id"], customer_ids=ids)
    answered_in = time.perf_counter() - started
    # The request records customers and groups; the worker queues the messages.
    assert answered_in < 5, f"POST /incidents took {answered_in:.1f}s for 10,000 customers"
    assert incident["affected_count"] == 10_000 and incident["update_count"] == 1
    assert incident["owner"] == {"id": supervisor["id"], "name": "Vera Lind"}
    groups = incident["groups"]
    assert len(groups) == 50 and all(g["customer_count"] == 200 for g in groups)
    assert [g["number"] for g in groups] == list(range(1, 51))
    # Round-robin over the on-duty staff of the department; the one off duty gets nobody.
    expected = [{"id": c["id"], "name": c["name"]} for c in concierges]
    assert [g["concierge"] for g in groups] == [expected[n % 3] for n in range(50)]
    assert incident["delivery"] == {
        "queued": 0,
        "held": 0,
        "sent": 0,
        "failed": 0,
        "not_contacted": 0,
        "pending": 10_000,
    }
    with unit_of_work(session_factory) as session:
        members = dict(
            session.execute(
                select(IncidentCustomer.customer_id, IncidentCustomer.concierge_id).where(
                    IncidentCustomer.incident_id == incident["id"]
                )
            ).all()
        )
    assert len(members) == 10_000
    assert members[ids[0]] == members[ids[199]] == concierges[0]["id"]
    assert members[ids[200]] == concierges[1]["id"] and members[ids[9_999]] == concierges[49 % 3]["id"]

    run_once(session_factory, clock, settings)  # no SMTP server: e-mail is held, portal is sent
    notices = outbox_rows(session_factory, "incident_notice")
    reached = [r.recipient_customer_id for r in notices]
    assert len(reached) == len(set(reached)) == 10_000 - len(silent)
    assert not silent & set(reached)
    assert {r.recipient_customer_id for r in notices if r.channel == "portal"} == portal_only
    detail = admin.get(f"/incidents/{incident['id']}").json()
    assert detail["delivery"] == {
        "queued": 0,
        "held": 10_000 - len(silent) - len(portal_only),
        "sent": len(portal_only),
        "failed": 0,
        "not_contacted": len(silent),
        "pending": 0,
    }
    assert detail["updates"][0]["fanned_out_at"] is not None

    clock.advance(timedelta(hours=2))
    update = admin.post(
        f"/incidents/{incident['id']}/updates",
        {"message": "Every double charge is refunded; banks show it within two days."},
    )
    assert update.status_code == 201, update.text
    assert update.json()["update_count"] == 2
    assert update.json()["updates"][1]["delivery"]["pending"] == 10_000
    run_once(session_factory, clock, settings)
    run_once(session_factory, clock, settings)  # a second sweep queues nothing again
    updates = [r.recipient_customer_id for r in outbox_rows(session_factory, "incident_update")]
    assert sorted(updates) == sorted(reached)
    detail = admin.get(f"/incidents/{incident['id']}").json()
    assert [u["delivery"]["not_contacted"] for u in detail["updates"]] == [len(silent)] * 2
    assert detail["delivery"]["held"] == 2 * (10_000 - len(silent) - len(portal_only))
    assert detail["delivery"]["pending"] == 0


def test_the_message_says_what_happened_who_looks_after_them_and_when_they_hear_next(
    admin, session_factory, clock, settings
):
    billing, concierges = make_department(admin, members=2)
    ids = bulk_customers(session_factory, 4, shape=lambda i: {"timezone": "Mars/Olympus"} if i == 3 else {})
    incident = declare(
        admin,
        billing,
        concierges[0]["id"],
        customer_ids=[*ids, ids[0]],  # named twice, affected once
        group_size=2,
        next_update_at="2026-03-02T15:00:00Z",
    )
    assert incident["affected_count"] == 4
    run_once(session_factory, clock, settings)
    # A time zone we cannot read does not hold up anyone's message: theirs is in ours (UTC).
    [martian] = [m for m in admin.get("/outbox").json()["items"] if m["recipient"] == "c3@example.com"]
    assert "by Monday 02 March 2026, 15:00 (UTC)" in martian["body"]
    third = [m for m in admin.get("/outbox").json()["items"] if m["recipient"] == "c2@example.com"]
    assert len(third) == 1 and third[0]["status"] == "held" and third[0]["case_id"] is None
    assert third[0]["subject"] == "Double card charges: what happened and what we are doing"
    body = third[0]["body"]
    assert body.startswith("Hello Customer 2,\n\n" + MESSAGE)
    assert "I am Concierge 2, and I look after you personally" in body  # group 2's concierge
    # 15:00 UTC is 16:00 in the customer's own time zone.
    assert "You will hear from me again by Monday 02 March 2026, 16:00 (Europe/Paris)" in body
    assert incident["next_update_due"] == "2026-03-02T15:00:00Z"


def test_an_update_posted_before_the_worker_ran_goes_out_after_the_first_message(
    admin, session_factory, clock, settings
):
    billing, concierges = make_department(admin, members=1)
    ids = bulk_customers(session_factory, 7, shape=lambda i: {"do_not_contact": i == 6})
    incident = declare(admin, billing, concierges[0]["id"], customer_ids=ids)
    path = f"/incidents/{incident['id']}"
    assert admin.post(f"{path}/updates", {"message": "We found the cause."}).status_code == 201
    pending = admin.get(path).json()
    assert [u["delivery"]["pending"] for u in pending["updates"]] == [7, 7]
    run_once(session_factory, clock, settings)
    notices = outbox_rows(session_factory, "incident_notice")
    updates = outbox_rows(session_factory, "incident_update")
    assert sorted(r.recipient_customer_id for r in notices) == ids[:6]
    assert sorted(r.recipient_customer_id for r in updates) == ids[:6]
    done = admin.get(path).json()
    assert [
        (u["number"], u["delivery"]["held"], u["delivery"]["not_contacted"]) for u in done["updates"]
    ] == [
        (1, 6, 1),
        (2, 6, 1),
    ]
    assert all(u["fanned_out_at"] == "2026-03-02T09:00:00Z" for u in done["updates"])


def test_two_workers_fanning_out_at_once_queue_each_message_once(admin, session_factory, clock, settings):
    billing, concierges = make_department(admin, members=2)
    ids = bulk_customers(session_factory, 3_000)
    declare(admin, billing, concierges[0]["id"], customer_ids=ids)
    handled: list[int] = []
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()
        with unit_of_work(session_factory) as session:
            handled.append(fan_out_pending(session, now=clock.now(), settings=settings))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One claims the update (FOR UPDATE SKIP LOCKED, or SQLite's single writer); the other finds
    # nothing left to do.
    assert sorted(handled) == [0, 3_000]
    reached = [r.recipient_customer_id for r in outbox_rows(session_factory, "incident_notice")]
    assert len(reached) == len(set(reached)) == 3_000


def test_delivery_counts_follow_the_outbox_and_never_count_a_failure_as_sent(
    admin, session_factory, clock, smtp_settings, mailsink
):
    billing, concierges = make_department(admin, members=2)

    def shape(i: int) -> dict[str, Any]:
        if i == 4:
            return {"do_not_contact": True}
        if i == 9:  # it is 10:00 in Paris: quiet until noon
            return {"quiet_start": "08:00", "quiet_end": "12:00"}
        return {}

    ids = bulk_customers(session_factory, 30, shape=shape)
    mailsink.refuse.add("c17@example.com")
    incident = declare(admin, billing, concierges[0]["id"], customer_ids=ids)

    run_once(session_factory, clock, smtp_settings)
    detail = admin.get(f"/incidents/{incident['id']}").json()
    assert detail["delivery"] == {
        "queued": 1,
        "held": 0,
        "sent": 27,
        "failed": 1,
        "not_contacted": 1,
        "pending": 0,
    }
    assert mailsink.count() == 27 and not mailsink.to("c17@example.com") and not mailsink.to("c4@example.com")
    by_status: dict[str, int] = {}
    for message in admin.get("/outbox", limit=200).json()["items"]:
        by_status[message["status"]] = by_status.get(message["status"], 0) + 1
    assert by_status == {"sent": 27, "failed": 1, "queued": 1}
    [refused] = admin.get("/outbox", status="failed").json()["items"]
    assert refused["recipient"] == "c17@example.com" and "550" in refused["last_error"]

    clock.advance(timedelta(hours=2))  # quiet hours are over
    run_once(session_factory, clock, smtp_settings)
    detail = admin.get(f"/incidents/{incident['id']}").json()
    assert (detail["delivery"]["sent"], detail["delivery"]["queued"], detail["delivery"]["failed"]) == (
        28,
        0,
        1,
    )
    assert detail["updates"][0]["delivery"] == detail["delivery"]
    assert len(mailsink.to("c9@example.com")) == 1


def test_a_reply_lands_on_one_case_owned_by_the_customers_concierge(
    admin, gateway, session_factory, clock, settings
):
    billing, (first, second) = make_department(admin, members=2)
    ids = bulk_customers(session_factory, 5)
    incident = declare(admin, billing, first["id"], customer_ids=ids, group_size=2)
    assert [g["concierge"]["id"] for g in incident["groups"]] == [first["id"], second["id"], first["id"]]
    replies = f"/incidents/{incident['id']}/replies"

    opened = gateway.post(replies, {"customer_id": ids[2], "body": "Was I charged twice too?"})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["owner"] == {"id": second["id"], "name": "Concierge 2"}
    assert case["incident_id"] == incident["id"] and case["customer_id"] == ids[2]
    assert (case["kind"], case["channel"], case["caused_by_department_id"]) == (
        "complaint",
        "api",
        billing["id"],
    )
    assert case["subject"] == "Double card charges"

    again = gateway.post(replies, {"customer_id": ids[2], "body": "Also, when will I see the refund?"})
    assert again.status_code == 201 and again.json()["id"] == case["id"]
    timeline = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    said = [e["text"] for e in timeline if e["kind"] in ("case_created", "message_in")]
    assert sorted(said) == ["Also, when will I see the refund?", "Was I charged twice too?"]
    assert len(admin.get("/cases", customer_id=ids[2]).json()["items"]) == 1

    other = gateway.post(replies, {"customer_id": ids[4], "body": "Same here."}).json()
    assert other["id"] != case["id"] and other["owner"]["id"] == first["id"]

    # A resolved case comes back to the same concierge when the customer writes again.
    assert admin.post(f"/cases/{case['id']}/resolve", {"summary": "Refunded."}).status_code == 200
    later = gateway.post(replies, {"customer_id": ids[2], "body": "Still not refunded."}).json()
    assert later["id"] == case["id"] and later["status"] == "open" and later["owner"]["id"] == second["id"]

    stranger = admin.post("/customers", {"name": "Kim Lee", "emails": ["kim@example.com"]}).json()["id"]
    refused = gateway.post(replies, {"customer_id": stranger, "body": "Me?"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "customer_id"
    assert (
        gateway.post(f"/incidents/{NO_INCIDENT}/replies", {"customer_id": ids[0], "body": "x"}).status_code
        == 404
    )


def test_an_incident_by_order_external_ids(admin, session_factory, clock, settings):
    billing, concierges = make_department(admin, members=1)
    ids = bulk_customers(session_factory, 3)
    for n, owner in enumerate([ids[0], ids[1], ids[1], ids[2]]):
        order = {
            "external_id": f"A-{n}",
            "customer_id": owner,
            "promised_by": "2026-03-05T12:00:00+00:00",
            "department_id": billing["id"],
        }
        assert admin.post("/orders", order).status_code == 201
    incident = declare(admin, billing, concierges[0]["id"], order_external_ids=[" A-3", "A-1", "A-2", "A-0"])
    # Two orders of one customer make one affected customer.
    assert incident["affected_count"] == 3
    run_once(session_factory, clock, settings)
    assert sorted(r.recipient_customer_id for r in outbox_rows(session_factory, "incident_notice")) == ids
    refused = admin.post(
        "/incidents",
        {
            "title": "x",
            "caused_by_department_id": billing["id"],
            "owner_id": concierges[0]["id"],
            "message": "x",
            "order_external_ids": ["A-0", "Z-404"],
        },
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "order_external_ids.1"


def test_without_on_duty_staff_the_owner_is_every_groups_concierge(admin, session_factory):
    billing, _ = make_department(admin, members=0, off_duty=1)
    owner = admin.post("/staff", {"name": "Olu Ade", "email": "olu@acme.test", "role": "supervisor"}).json()
    incident = declare(
        admin, billing, owner["id"], customer_ids=bulk_customers(session_factory, 3), group_size=1
    )
    assert [g["concierge"]["name"] for g in incident["groups"]] == ["Olu Ade"] * 3


def test_only_supervisors_and_admins_declare_incidents_and_post_updates(
    admin, as_token, session_factory, clock
):
    billing, concierges = make_department(admin, members=1)
    ids = bulk_customers(session_factory, 2)
    body = {
        "title": "Outage",
        "caused_by_department_id": billing["id"],
        "owner_id": concierges[0]["id"],
        "customer_ids": ids,
        "message": "Our site is down; we are restoring it.",
    }
    agent = as_token(
        make_staff_token(session_factory, clock, name="Al", email="al@acme.test", role=Role.agent)
    )
    refused = agent.post("/incidents", body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert admin.get("/incidents").json()["items"] == []
    supervisor = as_token(
        make_staff_token(session_factory, clock, name="Su", email="su@acme.test", role=Role.supervisor)
    )
    created = supervisor.post("/incidents", body)
    assert created.status_code == 201, created.text
    path = f"/incidents/{created.json()['id']}"
    assert agent.post(f"{path}/updates", {"message": "Back up."}).status_code == 403
    assert supervisor.post(f"{path}/updates", {"message": "Back up."}).status_code == 201
    # Anyone may read it; only a gateway's integrator token relays a customer's reply.
    assert agent.get(path).json()["update_count"] == 2
    assert [i["id"] for i in agent.get("/incidents").json()["items"]] == [created.json()["id"]]
    assert agent.post(f"{path}/replies", {"customer_id": ids[0], "body": "Thanks"}).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_ids": [0, 1, 2, UNKNOWN_CUSTOMER]}, "customer_ids.3"),
        ({"customer_ids": [0, 1, 2, "not-an-id"]}, "customer_ids.3"),
        ({"customer_ids": [0, UNKNOWN_CUSTOMER, 2, NO_CUSTOMER]}, "customer_ids.1"),
        ({"customer_ids": []}, "customer_ids"),
        ({"customer_ids": [0, "x\x00"]}, "customer_ids.1"),
        ({"customer_ids": None, "order_external_ids": ["Z-404"]}, "order_external_ids.0"),
        ({"order_external_ids": ["A-1"]}, "order_external_ids"),
        ({"customer_ids": None}, "order_external_ids"),
        ({"caused_by_department_id": NO_DEPARTMENT}, "caused_by_department_id"),
        ({"owner_id": NO_STAFF}, "owner_id"),
        ({"owner_id": None}, "owner_id"),
        ({"title": None}, "title"),
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"message": None}, "message"),
        ({"message": "x" * 5001}, "message"),
        ({"group_size": 0}, "group_size"),
        ({"next_update_at": "2026-03-02T08:00:00Z"}, "next_update_at"),
        ({"next_update_at": "2026-03-02T18:00:00"}, "next_update_at"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_refused_naming_the_field(admin, session_factory, change, field):
    billing, concierges = make_department(admin, members=1)
    ids = bulk_customers(session_factory, 3)
    body = {
        "title": "Outage",
        "caused_by_department_id": billing["id"],
        "owner_id": concierges[0]["id"],
        "customer_ids": ids,
        "message": "Our site is down; we are restoring it.",
    }
    for key, value in change.items():
        if value is None:
            body.pop(key)
        elif key == "customer_ids":
            body[key] = [ids[v] if isinstance(v, int) else v for v in value]
        else:
            body[key] = value
    response = admin.post("/incidents", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field and error["message"], error
    assert admin.get("/incidents").json()["items"] == []


def test_bad_updates_and_unknown_incidents(admin, gateway, session_factory):
    billing, concierges = make_department(admin, members=1)
    incident = declare(admin, billing, concierges[0]["id"], customer_ids=bulk_customers(session_factory, 1))
    path = f"/incidents/{incident['id']}"
    for body, field in [
        ({}, "message"),
        ({"message": " "}, "message"),
        ({"message": "ok", "next_update_at": "2020-01-01T00:00:00Z"}, "next_update_at"),
    ]:
        response = admin.post(f"{path}/updates", body)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
    assert admin.get(path).json()["update_count"] == 1
    assert (
        gateway.post(f"{path}/replies", {"customer_id": NO_CUSTOMER, "body": " "}).json()["error"]["field"]
        == "body"
    )
    for missing in (NO_INCIDENT, "nonsense"):
        assert admin.get(f"/incidents/{missing}").status_code == 404
        assert admin.post(f"/incidents/{missing}/updates", {"message": "x"}).status_code == 404
    assert admin.get("/incidents", limit=0).json()["error"]["field"] == "limit"
    first = admin.get("/incidents", limit=1).json()
    assert [i["id"] for i in first["items"]] == [incident["id"]] and first["next_cursor"] is None
