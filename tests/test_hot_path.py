"""The fast path of case intake keeps every behaviour: cached look-ups stay correct, the plain
INSERT path writes what the unit of work would, routing spreads concurrent cases."""

from __future__ import annotations

import gc
import threading
import weakref

from sqlalchemy import event, func, select

from ownwell.cases import repository as case_repository
from ownwell.cases.models import CadencePolicy, Case, CaseEvent
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer, CustomerIdentifier
from ownwell.customers.schemas import CustomerIn
from ownwell.db import ShortCache, insert_new, short_cache, unit_of_work
from ownwell.notifications.models import OutboxMessage
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff
from ownwell.staff.security import hash_token


def _agent(admin, as_token, email="ann@acme.test", departments=()):
    staff = admin.post(
        "/staff", {"name": "Ann Agent", "email": email, "role": "agent", "department_ids": list(departments)}
    ).json()
    return staff, as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"])


def test_answer_of_post_cases_is_the_case_as_stored(admin):
    made = admin.post("/cases", {"customer": {"emails": ["kim@example.com"]}, "body": "It broke."})
    assert made.status_code == 201
    assert made.headers["content-type"] == "application/json"
    assert made.json() == admin.get(f"/cases/{made.json()['id']}").json()


def test_unknown_token_is_refused_before_the_body_is_read(client, admin):
    for headers in ({}, {"Authorization": "Bearer ow_not-a-real-token"}):
        response = client.post("/api/v1/cases", json={"nonsense": True}, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "not_authenticated"


def test_role_and_duty_changes_count_at_once_despite_the_token_cache(admin, as_token):
    staff, agent = _agent(admin, as_token)
    policy = {"update_every_minutes": 60}
    assert agent.put("/cadence-policies/complaint", policy).status_code == 403
    assert admin.patch(f"/staff/{staff['id']}", {"role": "admin"}).status_code == 200
    assert agent.put("/cadence-policies/complaint", policy).status_code == 200
    assert admin.patch(f"/staff/{staff['id']}", {"role": "agent"}).status_code == 200
    assert agent.put("/cadence-policies/complaint", policy).status_code == 403
    # The new cadence applies to the very next case.
    new = {"customer": {"emails": ["x@example.com"]}, "body": "Hi", "kind": "complaint"}
    case = agent.post("/cases", new).json()
    assert case["next_update_due"] == "2026-03-02T10:00:00Z"


def test_a_change_made_by_another_process_shows_within_the_cache_lifetime(
    app, admin, as_token, session_factory
):
    staff, agent = _agent(admin, as_token)
    seconds = [0.0]
    cache = short_cache(app.state.session_factory)
    cache.timer = lambda: seconds[0]
    cache.clear()
    assert agent.get("/staff").status_code == 200  # the token is now cached
    # Another process (its own session factory, its own cache) puts the agent off duty and
    # makes them admin; this process still answers from its cache until the entry expires.
    with unit_of_work(session_factory) as session:
        session.get(Staff, staff["id"]).role = "admin"
    assert agent.put("/cadence-policies/request", {"update_every_minutes": 30}).status_code == 403
    seconds[0] += cache.ttl_s
    assert agent.put("/cadence-policies/request", {"update_every_minutes": 30}).status_code == 200


def test_requests_sharing_a_transaction_share_one_copy_of_their_caller(db, session_factory, clock):
    from tests.conftest import make_staff_token

    token = make_staff_token(session_factory, clock, name="Ann Agent", email="ann@acme.test", role="agent")
    token_hash = hash_token(token)
    with unit_of_work(session_factory) as session:
        staff_repository.token_holder(session, token_hash, now=clock.now())  # now in the process's cache
    with unit_of_work(session_factory) as session:
        # The first request keeps no reference once it is answered...
        first = weakref.ref(staff_repository.token_holder(session, token_hash, now=clock.now()).staff)
        gc.collect()
        # ...yet the next request in the same transaction gets that same copy.
        assert first() is not None
        assert staff_repository.token_holder(session, token_hash, now=clock.now()).staff is first()


def test_what_a_rolled_back_transaction_read_is_not_kept(db, session_factory):
    cache = short_cache(session_factory)
    with session_factory() as session:
        session.begin()
        session.add(CadencePolicy(kind="complaint", update_every_minutes=7))
        session.flush()
        assert case_repository.cadence_minutes(session, "complaint") == 7
        session.rollback()
    assert cache.get(("cadence", "complaint")) is None
    with session_factory() as session:
        assert case_repository.cadence_minutes(session, "complaint") is None


def test_short_cache_forgets_after_its_lifetime():
    seconds = [100.0]
    cache = ShortCache(ttl_s=2.0, timer=lambda: seconds[0])
    cache.put("k", {"v": 1})
    seconds[0] += 1.9
    assert cache.get("k") == {"v": 1}
    seconds[0] += 0.1
    assert cache.get("k") is None


def _count_statements(engine):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", before)
    return seen, lambda: event.remove(engine, "before_cursor_execute", before)


def test_intake_writes_full_rows_and_reads_nothing_back(admin, session_factory, app):
    case = admin.post(
        "/cases", {"customer": {"emails": ["new@example.com"], "name": "Nia New"}, "body": "Late."}
    ).json()
    with session_factory() as session:
        stored = session.get(Case, case["id"])
        assert (stored.reopen_count, stored.proactive, stored.first_response_at) == (0, False, None)
        customer = session.get(Customer, case["customer_id"])
        assert (customer.name, customer.preferred_channel, customer.topics) == ("Nia New", "email", [])
        assert customer.do_not_contact is False
        held = select(CustomerIdentifier.value).where(CustomerIdentifier.customer_id == customer.id)
        identifiers = session.scalars(held)
        assert list(identifiers) == ["new@example.com"]
        events = select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case["id"])
        assert session.scalar(events) == 1
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case["id"])).one()
        assert (message.recipient, message.attempts, message.headers) == ("new@example.com", 0, {})
    # Reading back what was just written costs no query: the objects are fully loaded.
    seen, stop = _count_statements(app.state.engine)
    try:
        admin.post("/cases", {"customer": {"emails": ["other@example.com"]}, "body": "Also late."})
    finally:
        stop()
    assert [s for s in seen if s == "SELECT"] == ["SELECT"]  # only the identifier look-up


def test_rolled_back_savepoint_takes_plain_inserts_with_it(db, session_factory, clock):
    with unit_of_work(session_factory) as session:
        nested = session.begin_nested()
        customer = customer_service.create_customer(
            session, data=CustomerIn(emails=["gone@example.com"]), now=clock.now(), default_timezone="UTC"
        )
        assert customer in session
        nested.rollback()
        assert customer not in session
        kept = customer_service.create_customer(
            session, data=CustomerIn(emails=["kept@example.com"]), now=clock.now(), default_timezone="UTC"
        )
    with session_factory() as session:
        assert session.scalars(select(Customer.id)).all() == [kept.id]


def test_new_rows_tied_by_relationship_only_still_get_their_keys(db, session_factory, clock):
    with unit_of_work(session_factory) as session:
        customer = customer_service.create_customer(
            session, data=CustomerIn(emails=["a@example.com"]), now=clock.now(), default_timezone="UTC"
        )
        # The foreign key is left to the relationship: insert_new must not write a NULL.
        customer.identifiers.append(
            CustomerIdentifier(id="cid_test1", kind="email", system="", value="b@example.com")
        )
        insert_new(session)
    with session_factory() as session:
        owner = session.scalar(
            select(CustomerIdentifier.customer_id).where(CustomerIdentifier.id == "cid_test1")
        )
        assert owner == customer.id


def test_concurrent_cases_spread_over_the_department(admin, as_token, session_factory):
    shipping = admin.post("/departments", {"name": "Shipping"}).json()["id"]
    members = [_agent(admin, as_token, f"{n}@acme.test", [shipping])[0]["id"] for n in "ab"]
    first_by_id, second_by_id = sorted(members)
    postgresql = session_factory.kw["bind"].dialect.name == "postgresql"
    first = session_factory()
    try:
        first.begin()
        assert staff_repository.claim_least_loaded(first, department_id=shipping).id == first_by_id
        if postgresql:
            # While the first transaction holds that row, a second one takes the other member
            # instead of waiting (SQLite has one writer at a time, so nothing to show there).
            with unit_of_work(session_factory) as second:
                claimed = staff_repository.claim_least_loaded(second, department_id=shipping)
                assert claimed.id == second_by_id
        first.commit()
    finally:
        first.close()
    counts = {s["id"]: s["open_case_count"] for s in admin.get("/staff").json()["items"]}
    assert (counts[first_by_id], counts[second_by_id]) == ((1, 1) if postgresql else (1, 0))
    # Sequential picks keep taking the least loaded, ties by id.
    new = {"body": "Hi", "caused_by_department_id": shipping}
    owners = [
        admin.post("/cases", {**new, "customer": {"emails": [f"c{i}@example.com"]}}).json()["owner"]["id"]
        for i in range(3)
    ]
    expected = (
        [first_by_id, second_by_id, first_by_id] if postgresql else [second_by_id, first_by_id, second_by_id]
    )
    assert owners == expected


def test_first_contacts_from_the_same_address_at_once_make_one_customer(db, session_factory, clock):
    start = threading.Barrier(2)
    found: list[str] = []

    def contact() -> None:
        with unit_of_work(session_factory) as session:
            start.wait(timeout=10)
            customer = customer_service.recognise_or_create(
                session,
                data=CustomerIn(emails=["twin@example.com"], phones=["+442079460099"]),
                now=clock.now(),
                default_timezone="UTC",
                prefix="customer.",
            )
            found.append(customer.id)

    threads = [threading.Thread(target=contact) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(found) == 2 and found[0] == found[1]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        assert session.scalar(select(func.count()).select_from(CustomerIdentifier)) == 2
