"""Group commit: case intakes that arrive together share one transaction, and each request
still gets exactly the answer (and leaves exactly the rows) it would have on its own."""

from __future__ import annotations

import asyncio
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, func, select, text, update

from ownwell.cases import service
from ownwell.cases.models import Case, CaseEvent
from ownwell.cases.schemas import CaseIn
from ownwell.customers.models import Customer
from ownwell.db import unit_of_work
from ownwell.errors import InvalidInput
from ownwell.kit.group_commit import GroupCommit
from ownwell.notifications.models import OutboxMessage
from ownwell.staff.models import Staff


def _intake(settings, clock, **fields):  # type: ignore[no-untyped-def]
    data = CaseIn.model_validate({"body": "My parcel never came.", **fields})

    def job(session):  # type: ignore[no-untyped-def]
        case = service.create_case(session, data=data, actor=None, now=clock.now(), settings=settings)
        return case.id, case.customer_id, case.owner.name

    job.hint = lambda session: service.expect_case(session, data)  # type: ignore[attr-defined]
    return job


def _counting(job):  # type: ignore[no-untyped-def]
    """The job, and a list that gets an entry each time it runs."""
    runs: list[int] = []

    def counted(session):  # type: ignore[no-untyped-def]
        runs.append(1)
        return job(session)

    counted.hint = job.hint  # type: ignore[attr-defined]
    return counted, runs


def _run_together(queue, jobs):  # type: ignore[no-untyped-def]
    """Submit the jobs in one go, as requests arriving at the same moment would."""

    async def together():  # type: ignore[no-untyped-def]
        return await asyncio.gather(*(queue.run(job, job.hint) for job in jobs), return_exceptions=True)

    # A loop of its own, in a thread of its own: a browser test may leave one running here.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, together()).result()


def _department_of_agents(admin, *names: str) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A Shipping department with these agents on duty in it: its id, and {staff id: name}."""
    shipping = admin.post("/departments", {"name": "Shipping"}).json()["id"]
    members = {
        admin.post(
            "/staff",
            {
                "name": name,
                "email": f"{name.lower()}@acme.test",
                "role": "agent",
                "department_ids": [shipping],
            },
        ).json()["id"]: name
        for name in names
    }
    return shipping, members


def _run_noting_reads(db, queue, jobs):  # type: ignore[no-untyped-def]
    """`_run_together`, and the first table of each SELECT sent meanwhile."""
    reads: list[str] = []

    def note_reads(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.split()[0].upper() == "SELECT":
            reads.append(_first_table(statement))

    event.listen(db, "before_cursor_execute", note_reads)
    try:
        return _run_together(queue, jobs), reads
    finally:
        event.remove(db, "before_cursor_execute", note_reads)


def _first_table(statement: str) -> str:
    """The first table a SELECT reads from (past any subqueries' parentheses)."""
    return re.findall(r"\bFROM (\w+)", statement)[0]


def _count(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def commits(db):  # type: ignore[no-untyped-def]
    seen: list[int] = []
    listener = lambda _conn: seen.append(1)  # noqa: E731
    event.listen(db, "commit", listener)
    yield seen
    event.remove(db, "commit", listener)


def test_intakes_arriving_together_are_stored_by_one_commit(admin, session_factory, settings, clock, commits):
    queue = GroupCommit(session_factory)
    jobs = [_intake(settings, clock, customer={"emails": [f"c{i}@example.com"]}) for i in range(8)]

    answers = _run_together(queue, jobs)

    assert len(commits) == 1 and queue.shared_commits == 1
    assert len({case_id for case_id, _, _ in answers}) == 8
    assert all(owner == "Ada Admin" for _, _, owner in answers)
    with session_factory() as session:
        assert session.scalar(select(Staff.open_case_count)) == 8  # each case counted once
    # Everything each intake writes is there: the case, its customer, its timeline, its message.
    for model in (Case, Customer, CaseEvent, OutboxMessage):
        assert _count(session_factory, model) == 8, model
    with session_factory() as session:
        stored = {c.id: c.customer_id for c in session.scalars(select(Case))}
    assert stored == {case_id: customer_id for case_id, customer_id, _ in answers}


def test_a_bad_request_among_them_gets_its_own_error_and_leaves_nothing(
    admin, session_factory, settings, clock
):
    queue = GroupCommit(session_factory)
    good = _intake(settings, clock, customer={"emails": ["ok@example.com"]})
    bad = _intake(settings, clock, customer_id="cus_doesnotexist0000000000")
    also_good = _intake(settings, clock, customer={"emails": ["fine@example.com"]})

    first, error, third = _run_together(queue, [good, bad, also_good])

    assert isinstance(error, InvalidInput) and error.field == "customer_id"
    assert not isinstance(first, Exception) and not isinstance(third, Exception)
    assert queue.shared_commits == 1  # the other two still went together
    assert _count(session_factory, Case) == 2
    assert _count(session_factory, Customer) == 2
    assert _count(session_factory, OutboxMessage) == 2


def test_a_commit_that_fails_after_taking_effect_is_not_redone(admin, session_factory, settings, clock):
    """Whether a COMMIT that reported an error took effect is unknown (a connection lost at that
    moment): each request gets the error, and nothing is stored a second time."""
    queue = GroupCommit(session_factory)
    failures = ["once"]

    def lost_after_commit(_session):  # type: ignore[no-untyped-def]
        if failures:
            failures.pop()
            raise ConnectionError("connection lost while committing")

    event.listen(session_factory, "after_commit", lost_after_commit)
    try:
        answers = _run_together(
            queue, [_intake(settings, clock, customer={"emails": [f"k{i}@example.com"]}) for i in range(4)]
        )
    finally:
        event.remove(session_factory, "after_commit", lost_after_commit)

    assert all(isinstance(answer, Exception) for answer in answers)  # each answered 500
    assert _count(session_factory, Case) == 4  # stored once, not redone
    assert _count(session_factory, OutboxMessage) == 4


def test_two_first_contacts_from_one_address_together_make_one_customer(
    admin, session_factory, settings, clock
):
    queue = GroupCommit(session_factory)
    jobs = [_intake(settings, clock, customer={"emails": ["New.Person@Example.com"]}) for _ in range(2)]

    (case_a, customer_a, _), (case_b, customer_b, _) = _run_together(queue, jobs)

    assert case_a != case_b and customer_a == customer_b
    assert queue.shared_commits == 1  # the second found the first's customer: no clash, no redo
    assert _count(session_factory, Customer) == 1
    assert _count(session_factory, Case) == 2


def test_a_shared_transaction_reads_customers_and_candidates_once(
    admin, session_factory, settings, clock, db
):
    shipping, _members = _department_of_agents(admin, "Bea", "Cy")
    for i in range(3):  # customers who will write again
        admin.post("/cases", {"customer": {"emails": [f"back{i}@example.com"]}, "body": "First time."})
    queue = GroupCommit(session_factory)
    jobs = [
        _intake(
            settings,
            clock,
            customer={"emails": [f"back{i % 3}@example.com" if i % 2 else f"new{i}@example.com"]},
            caused_by_department_id=shipping,
        )
        for i in range(8)
    ]
    answers, reads = _run_noting_reads(db, queue, jobs)

    assert queue.shared_commits == 1
    # One read of customers (with their identifiers) and one of staff for all 8 (the cached
    # department and cadence checks aside).
    per_case = [table for table in reads if table in ("customer_identifiers", "customers", "staff")]
    assert sorted(per_case) == ["customers", "staff"]
    with session_factory() as session:
        owners_of_returning = {
            customer_id
            for _, customer_id, _ in answers[1::2]
            if session.get(Customer, customer_id).name.startswith("Back")
        }
    assert len(owners_of_returning) == 3  # the returning ones landed on their own customers
    assert sorted(owner for _, _, owner in answers) == ["Bea"] * 4 + ["Cy"] * 4
    assert _count(session_factory, Customer) == 3 + 4


def test_one_read_serves_the_routing_of_every_kind_of_case_in_a_shared_transaction(
    admin, session_factory, settings, clock, db
):
    """Cases for two departments and unattributed ones, together: the candidates of all three
    picks come from one statement, and each case still goes where routing says."""
    shipping, _ = _department_of_agents(admin, "Bea", "Cy")
    billing = admin.post("/departments", {"name": "Billing"}).json()["id"]
    dee = {"name": "Dee", "email": "dee@acme.test", "role": "agent", "department_ids": [billing]}
    admin.post("/staff", dee)
    admin.post("/staff", {"name": "Eve", "email": "eve@acme.test", "role": "agent"})
    queue = GroupCommit(session_factory)
    departments = [shipping, billing, None] * 3
    jobs = [
        _intake(settings, clock, customer={"emails": [f"k{i}@x.example"]}, caused_by_department_id=department)
        for i, department in enumerate(departments)
    ]
    answers, reads = _run_noting_reads(db, queue, jobs)

    assert queue.shared_commits == 1
    assert reads.count("staff") == 1
    owners = [owner for _, _, owner in answers]
    # In order, fewest open cases first counting the block's own picks, ties to the older
    # member: Shipping's pair take turns, Billing has only Dee, and the unattributed ones go to
    # whichever agent has the fewest by then (Cy, then Eve twice).
    assert owners == ["Bea", "Dee", "Cy", "Bea", "Dee", "Eve", "Cy", "Dee", "Eve"]
    with session_factory() as session:
        counts = dict(session.execute(select(Staff.name, Staff.open_case_count)).all())
    assert {name: counts[name] for name in ("Bea", "Cy", "Dee", "Eve")} == {
        name: owners.count(name) for name in ("Bea", "Cy", "Dee", "Eve")
    }


def test_a_shared_transaction_routes_as_cases_taken_one_by_one_would_be(
    admin, session_factory, settings, clock, db
):
    """A member of two departments, a department with nobody in it (its cases fall back to the
    agents) and unequal loads to start from: the batch's owners are exactly those of routing
    the cases one after another, fewest open cases first, ties to the older member."""
    shipping = admin.post("/departments", {"name": "Shipping"}).json()["id"]
    billing = admin.post("/departments", {"name": "Billing"}).json()["id"]
    empty = admin.post("/departments", {"name": "Empty"}).json()["id"]
    for name, departments in (
        ("Bea", [shipping]),
        ("Cy", [shipping, billing]),
        ("Dee", [billing]),
        ("Eve", []),
    ):
        member = {
            "name": name,
            "email": f"{name.lower()}@acme.test",
            "role": "agent",
            "department_ids": departments,
        }
        admin.post("/staff", member)
    loads = {"Bea": 2, "Cy": 0, "Dee": 1, "Eve": 3}
    with unit_of_work(session_factory) as session:
        for name, load in loads.items():
            session.execute(update(Staff).where(Staff.name == name).values(open_case_count=load))
    with session_factory() as session:
        ids = dict(session.execute(select(Staff.name, Staff.id).where(Staff.name.in_(loads))).all())
    in_department = {shipping: ["Bea", "Cy"], billing: ["Cy", "Dee"], empty: [], None: []}
    order = [
        shipping,
        billing,
        empty,
        None,
        shipping,
        shipping,
        billing,
        None,
        empty,
        shipping,
        billing,
        None,
    ]
    expected, counts = [], dict(loads)
    for department in order:
        candidates = in_department[department] or list(loads)  # no one there: the agents
        owner = min(candidates, key=lambda name: (counts[name], ids[name]))
        counts[owner] += 1
        expected.append(owner)
    queue = GroupCommit(session_factory)
    jobs = [
        _intake(settings, clock, customer={"emails": [f"r{i}@x.example"]}, caused_by_department_id=department)
        for i, department in enumerate(order)
    ]
    answers, reads = _run_noting_reads(db, queue, jobs)

    assert queue.shared_commits == 1
    assert [owner for _, _, owner in answers] == expected
    assert reads.count("staff") == 1  # the empty department's fallback was read with the rest
    with session_factory() as session:
        stored = dict(session.execute(select(Staff.name, Staff.open_case_count)).all())
    assert {name: stored[name] for name in loads} == counts


def test_a_shared_transaction_writes_events_and_messages_as_plain_rows_stored_as_the_orm_would(
    admin, session_factory, settings, clock, db
):
    """The case's first event and acknowledgement go as plain rows in a shared transaction (no
    ORM objects), and are stored exactly as the ORM stores them for a case opened on its own."""
    shipping, _ = _department_of_agents(admin, "Bea", "Cy")
    data = CaseIn.model_validate(
        {
            "body": "Parcel «late» 🚚",
            "customer": {"emails": ["alone@example.com"]},
            "caused_by_department_id": shipping,
        }
    )
    with unit_of_work(session_factory) as session:  # on its own: ORM objects, as everywhere else
        alone = service.create_case(session, data=data, actor=None, now=clock.now(), settings=settings).id
    orm_objects: list[str] = []

    def intake(email):  # type: ignore[no-untyped-def]
        job = _intake(
            settings, clock, customer={"emails": [email]}, caused_by_department_id=shipping, body=data.body
        )

        def counted(session):  # type: ignore[no-untyped-def]
            answer = job(session)
            orm_objects.extend(
                type(o).__name__ for o in session.new if isinstance(o, (CaseEvent, OutboxMessage))
            )
            return answer

        counted.hint = job.hint  # type: ignore[attr-defined]
        return counted

    queue = GroupCommit(session_factory)
    answers = _run_together(queue, [intake(f"s{i}@example.com") for i in range(3)])
    assert queue.shared_commits == 1 and orm_objects == []

    def stored(case_id):  # type: ignore[no-untyped-def]
        with session_factory() as session:
            event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)).one()
            message = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).one()
            ignore = {
                "id",
                "case_id",
                "actor_customer_id",
                "actor_name",
                "idempotency_key",
                "recipient",
                "recipient_customer_id",
            }
            assert (
                event.actor_customer_id
                == message.recipient_customer_id
                == session.get(Case, case_id).customer_id
            )
            return (
                {c.key: getattr(event, c.key) for c in CaseEvent.__table__.columns if c.key not in ignore},
                {
                    c.key: getattr(message, c.key)
                    for c in OutboxMessage.__table__.columns
                    if c.key not in ignore
                },
            )

    event_alone, message_alone = stored(alone)
    for case_id, customer_id, owner in answers:
        event, message = stored(case_id)
        assert customer_id != alone
        assert event["data"].pop("owner")["name"] == owner  # who got it is routing's affair
        event_alone["data"].pop("owner", None)
        assert event == event_alone and event["text"] == "Parcel «late» 🚚"
        assert {**message, "body": ""} == {**message_alone, "body": ""}
        assert owner in message["body"] and "/portal/" in message["body"]


def test_a_plain_row_is_never_queued_where_it_could_outlive_a_rollback(session_factory, db):
    """`add_new_row` queues only in a block whose transaction ends with it, and not inside a
    savepoint (rolling that back would leave the row queued); elsewhere the caller adds an ORM
    object, as everywhere else."""
    from ownwell.db import add_new_row, shared_writes

    table = OutboxMessage.__table__
    with unit_of_work(session_factory) as session:
        assert add_new_row(session, table, {}) is False  # no shared block
        with shared_writes(session, commands=2, commit_follows=False):  # order ingest's kind
            assert add_new_row(session, table, {}) is False
        with shared_writes(session, commands=2, commit_follows=True), session.begin_nested():
            assert add_new_row(session, table, {}) is False
        session.rollback()


def test_a_shared_transaction_writes_its_counters_in_the_round_trip_of_its_rows(
    admin, session_factory, settings, clock, db
):
    """PostgreSQL: the counters' UPDATE (and its short lock wait) go in the pipeline that
    carries the new rows, not as statements of their own; the counters are exact all the same."""
    if db.dialect.name != "postgresql":
        pytest.skip("pipelines are PostgreSQL's")
    shipping, members = _department_of_agents(admin, "Bea", "Cy")
    queue = GroupCommit(session_factory)
    jobs = [
        _intake(settings, clock, customer={"emails": [f"p{i}@example.com"]}, caused_by_department_id=shipping)
        for i in range(6)
    ]
    sent: list[str] = []

    def note(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        sent.append(" ".join(statement.split()[:2]).upper())

    event.listen(db, "before_cursor_execute", note)
    try:
        answers = _run_together(queue, jobs)
    finally:
        event.remove(db, "before_cursor_execute", note)

    assert queue.shared_commits == 1 and not any(isinstance(a, Exception) for a in answers)
    assert not [s for s in sent if s.startswith(("UPDATE", "SET", "INSERT"))], sent
    with session_factory() as session:
        counts = dict(
            session.execute(select(Staff.id, Staff.open_case_count).where(Staff.id.in_(members))).all()
        )
    assert sorted(counts.values()) == [3, 3]


def test_a_shared_look_up_finds_an_identifier_added_since_its_holder_was_read(
    admin, db, session_factory, clock
):
    """PostgreSQL: who holds an identifier comes from the rows read at that moment, not from the
    holder's identifiers as this transaction read them a moment earlier."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nobody can add an identifier in between")
    from ownwell.customers import repository as customer_repository
    from ownwell.customers import service as customer_service
    from ownwell.customers.models import CustomerIdentifier, IdentifierKind
    from ownwell.customers.schemas import CustomerIn
    from ownwell.db import shared_writes
    from ownwell.kit.ids import new_id

    with unit_of_work(session_factory) as session:
        ana = CustomerIn(emails=["ana@example.com"])
        customer_id = customer_service.create_customer(
            session, data=ana, now=clock.now(), default_timezone="UTC"
        ).id
    work_address = (IdentifierKind.email, "", "ana.work@example.com")
    with session_factory() as session:
        ana_as_read = customer_repository.get(session, customer_id)  # read with her one address
        with unit_of_work(session_factory) as other:  # meanwhile her work address is added
            kind, system, value = work_address
            other.add(
                CustomerIdentifier(
                    id=new_id("cid"), customer_id=customer_id, kind=kind, system=system, value=value
                )
            )
        with shared_writes(session):
            held = customer_repository.owners_of(session, [work_address])
        addresses_as_read = len(ana_as_read.identifiers)
        session.rollback()

    assert addresses_as_read == 1  # this transaction's copy of her stays as it was read
    assert held == {work_address: customer_id}


def test_a_lone_request_that_fails_runs_once_and_gets_its_error(admin, session_factory, settings, clock):
    queue = GroupCommit(session_factory)
    counted, runs = _counting(_intake(settings, clock, customer_id="cus_doesnotexist0000000000"))

    (error,) = _run_together(queue, [counted])

    assert isinstance(error, InvalidInput) and error.field == "customer_id"
    assert runs == [1]
    assert _count(session_factory, Case) == 0


def test_a_lone_request_is_stored_with_its_counter(db, admin, session_factory, settings, clock, commits):
    """A request that arrives alone runs in the shared block too: once, without the savepoint
    the plain path puts around a new customer on PostgreSQL."""
    queue = GroupCommit(session_factory)
    counted, runs = _counting(_intake(settings, clock, customer={"emails": ["solo@example.com"]}))
    sent: list[str] = []
    listener = lambda _c, _cur, statement, *_: sent.append(statement)  # noqa: E731
    event.listen(db, "before_cursor_execute", listener)
    try:
        ((case_id, customer_id, owner),) = _run_together(queue, [counted])
    finally:
        event.remove(db, "before_cursor_execute", listener)

    assert owner == "Ada Admin" and len(commits) == 1 and queue.shared_commits == 0 and runs == [1]
    assert not [statement for statement in sent if "SAVEPOINT" in statement]
    with session_factory() as session:
        assert session.get(Case, case_id).customer_id == customer_id
        assert session.scalar(select(Staff.open_case_count)) == 1
    for model in (Case, Customer, CaseEvent, OutboxMessage):
        assert _count(session_factory, model) == 1, model


def test_a_lone_request_skips_a_member_someone_else_is_holding(db, admin, session_factory, settings, clock):
    """PostgreSQL: while a sign-in or a transfer holds the least-loaded member's row, a request
    arriving alone goes to the next member at once instead of waiting for that transaction."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nobody else can hold a row")
    shipping, members = _department_of_agents(admin, "Bea", "Cy")
    first = min(members)  # both have no cases: ties go by id
    queue = GroupCommit(session_factory)
    counted, runs = _counting(
        _intake(settings, clock, customer={"emails": ["x@example.com"]}, caused_by_department_id=shipping)
    )
    with session_factory() as holder:
        # Another writer of the row (an admin renaming them): an UPDATE, not yet committed.
        holder.execute(update(Staff).where(Staff.id == first).values(name=Staff.name))
        ((_case, _customer, owner),) = _run_together(queue, [counted])
        holder.rollback()

    # Once: not picked, made to wait for the row at the end, given up on and redone alone.
    assert owner == members[max(members)] and runs == [1]
    with session_factory() as session:
        assert session.get(Staff, max(members)).open_case_count == 1
        assert session.get(Staff, first).open_case_count == 0


def _someone_waits_for_a_lock(session_factory) -> None:  # type: ignore[no-untyped-def]
    """Return once another PostgreSQL backend is waiting for a lock (bounded: 20 s)."""
    for _ in range(2000):
        with session_factory() as session:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            )
        if waiting:
            return
        threading.Event().wait(0.01)
    raise AssertionError("nobody started waiting for a lock")


def test_a_lone_request_waits_for_a_held_personal_contact_once(db, admin, session_factory, settings, clock):
    """PostgreSQL: routing to a personal contact whose row a sign-in holds waits for it, as a
    request on its own does, instead of failing at the end and running a second time."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nobody else can hold a row")
    _shipping, members = _department_of_agents(admin, "Bea")
    bea = next(iter(members))
    customer = admin.post("/customers", {"emails": ["pc@example.com"], "personal_contact_id": bea}).json()
    queue = GroupCommit(session_factory)
    counted, runs = _counting(_intake(settings, clock, customer_id=customer["id"]))
    routed = threading.Event()

    def job(session):  # type: ignore[no-untyped-def]
        out = counted(session)
        routed.set()
        return out

    job.hint = counted.hint  # type: ignore[attr-defined]
    with ThreadPoolExecutor(1) as thread, session_factory() as holder:
        holder.execute(update(Staff).where(Staff.id == bea).values(name=Staff.name))
        answer = thread.submit(_run_together, queue, [job])
        _someone_waits_for_a_lock(session_factory)
        # It waits while routing, not at the end of its block, where a wait longer than the
        # counters' 200 ms would fail it and have it run again.
        assert not routed.is_set()
        holder.rollback()
        ((_case, _customer, owner),) = answer.result(timeout=30)

    assert owner == "Bea" and runs == [1]
    with session_factory() as session:
        assert session.get(Staff, bea).open_case_count == 1


def test_two_first_contacts_from_one_address_on_both_paths_meet_on_one_customer(
    db, admin, session_factory, settings, clock
):
    """PostgreSQL: a lone request and, in another process, a request on the plain path (the web
    form, or a redo) write in from the same new address at the same moment, to a one-person
    department. Both are answered, on one customer, without a deadlock or a second run."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    shipping, _members = _department_of_agents(admin, "Bea")
    queue = GroupCommit(session_factory)
    fields = {"customer": {"emails": ["same@example.com"]}, "caused_by_department_id": shipping}
    lone, runs = _counting(_intake(settings, clock, **fields))
    routed, go_on = threading.Event(), threading.Event()

    def paused(session):  # type: ignore[no-untyped-def]
        out = lone(session)  # routed, and the member's row taken; not yet committed
        routed.set()
        go_on.wait(30)
        return out

    paused.hint = lone.hint  # type: ignore[attr-defined]
    plain = _intake(settings, clock, **fields)

    def on_the_plain_path():  # type: ignore[no-untyped-def]
        with unit_of_work(session_factory) as session:
            return plain(session)

    with ThreadPoolExecutor(2) as threads:
        first = threads.submit(_run_together, queue, [paused])
        assert routed.wait(30)
        second = threads.submit(on_the_plain_path)
        _someone_waits_for_a_lock(session_factory)
        go_on.set()
        ((_case, lone_customer, _owner),) = first.result(timeout=30)
        _case, plain_customer, _owner = second.result(timeout=30)

    assert lone_customer == plain_customer and runs == [1]
    assert _count(session_factory, Case) == 2 and _count(session_factory, Customer) == 1


def test_a_failing_hint_costs_a_read_not_the_shared_transaction(admin, session_factory, settings, clock):
    queue = GroupCommit(session_factory)
    jobs = [_intake(settings, clock, customer={"emails": [f"h{i}@example.com"]}) for i in range(3)]

    def broken_hint(_session):  # type: ignore[no-untyped-def]
        raise RuntimeError("a hint that went wrong")

    jobs[1].hint = broken_hint

    answers = _run_together(queue, jobs)

    assert not any(isinstance(answer, Exception) for answer in answers)
    assert queue.shared_commits == 1
    assert _count(session_factory, Case) == 3


def test_concurrent_posts_are_each_answered_with_the_case_as_stored(admin):
    def post(i: int):  # type: ignore[no-untyped-def]
        return admin.post("/cases", {"customer": {"emails": [f"p{i}@example.com"]}, "body": f"Problem {i}"})

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(post, range(48)))

    assert [a.status_code for a in answers] == [201] * 48
    for answer in answers:
        assert admin.get(f"/cases/{answer.json()['id']}").json() == answer.json()
    assert len({a.json()["customer_id"] for a in answers}) == 48


def test_cases_sharing_a_transaction_spread_over_the_department_and_are_counted(
    admin, session_factory, settings, clock
):
    shipping, members = _department_of_agents(admin, "Bea", "Cy", "Di")
    queue = GroupCommit(session_factory)
    jobs = [
        _intake(settings, clock, customer={"emails": [f"s{i}@example.com"]}, caused_by_department_id=shipping)
        for i in range(9)
    ]

    answers = _run_together(queue, jobs)

    assert queue.shared_commits == 1
    assert sorted(owner for _, _, owner in answers) == ["Bea"] * 3 + ["Cy"] * 3 + ["Di"] * 3
    with session_factory() as session:
        counted = {
            s.id: s.open_case_count for s in session.scalars(select(Staff).where(Staff.id.in_(members)))
        }
    assert counted == dict.fromkeys(members, 3)
    # ...and the next case, on its own, goes by the stored counters as always.
    lone = admin.post(
        "/cases",
        {"customer": {"emails": ["late@example.com"]}, "body": "Hi", "caused_by_department_id": shipping},
    )
    assert lone.json()["owner"]["name"] in members.values()


def test_the_counters_lock_wait_limit_ends_with_their_update(db, session_factory, admin):
    """PostgreSQL: the short lock wait applies to the counters' UPDATE only; a transaction that
    goes on afterwards (order ingest's next round) waits for locks as usual again."""
    if db.dialect.name != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's")
    from ownwell.db import shared_writes
    from ownwell.staff import repository as staff_repository

    with session_factory() as session:
        usual = session.connection().exec_driver_sql("SHOW lock_timeout").scalar()
        staff_id = session.scalar(select(Staff.id))
        with shared_writes(session):
            staff_repository.count_open_cases_later(session, staff_id, 1)
        after = session.connection().exec_driver_sql("SHOW lock_timeout").scalar()
        session.rollback()
    assert after == usual
