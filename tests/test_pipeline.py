"""New rows go to PostgreSQL in one round trip (kit.pipeline): stored exactly as the ORM would
store them, and a clash fails the way a plain INSERT fails, so races are still won or lost
cleanly. The same tests run on SQLite, where the rows go through SQLAlchemy Core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ownwell.cases.models import Case, CaseEvent
from ownwell.customers import repository as customer_repository
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer, CustomerIdentifier
from ownwell.customers.schemas import CustomerIn
from ownwell.db import insert_new, unit_of_work


def test_rows_of_several_tables_read_back_as_written(admin, session_factory, clock):
    owner_id = admin.get("/staff").json()["items"][0]["id"]
    paris = timezone(timedelta(hours=1))
    due = datetime(2026, 3, 2, 11, 30, tzinfo=paris)
    with unit_of_work(session_factory) as session:
        customer = customer_service.create_customer(
            session,
            data=CustomerIn(emails=["Ana@Example.com"], name="Ana"),
            now=clock.now(),
            default_timezone="UTC",
        )
        session.add(
            Case(
                id="cas_pipe1",
                customer_id=customer.id,
                owner_id=owner_id,
                subject="Late",
                kind="complaint",
                channel="email",
                status="open",
                next_update_due=due,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        session.add(
            CaseEvent(
                id="evt_pipe1",
                case_id="cas_pipe1",
                at=clock.now(),
                kind="case_created",
                visibility="customer",
                text="Where is it? «ünïcode» 🚚",
                data={"nested": {"list": [1, "two", None]}, "flag": True},
            )
        )
        insert_new(session)
    with session_factory() as session:
        case = session.get(Case, "cas_pipe1")
        assert case.next_update_due == due.astimezone(UTC)  # stored in UTC, the same instant
        assert (case.proactive, case.reopen_count, case.resolved_at) == (False, 0, None)
        event = session.get(CaseEvent, "evt_pipe1")
        assert event.text == "Where is it? «ünïcode» 🚚"
        assert event.data == {"nested": {"list": [1, "two", None]}, "flag": True}
        assert session.get(Customer, customer.id).name == "Ana"
        held = session.scalars(
            select(CustomerIdentifier.value).where(CustomerIdentifier.customer_id == customer.id)
        )
        assert list(held) == ["ana@example.com"]


def test_a_clash_fails_as_an_integrity_error_and_the_savepoint_recovers(admin, session_factory, clock):
    admin.post("/cases", {"customer": {"emails": ["taken@example.com"]}, "body": "First."})
    with unit_of_work(session_factory) as session:
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(
                Customer(
                    id="cus_pipe_loser",
                    name="Loser",
                    timezone="UTC",
                    topics=[],
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
            session.add(
                CustomerIdentifier(
                    id="cid_pipe_loser",
                    customer_id="cus_pipe_loser",
                    kind="email",
                    system="",
                    value="taken@example.com",
                )
            )
            insert_new(session)
        # The transaction goes on after the failed savepoint, and commits what came after.
        customer_service.create_customer(
            session, data=CustomerIn(emails=["after@example.com"]), now=clock.now(), default_timezone="UTC"
        )
    with session_factory() as session:
        assert session.get(Customer, "cus_pipe_loser") is None
        values = session.scalars(select(CustomerIdentifier.value).order_by(CustomerIdentifier.value))
        assert list(values) == ["after@example.com", "taken@example.com"]


def test_a_first_contact_that_loses_the_race_lands_on_the_winner(
    db, admin, session_factory, clock, monkeypatch
):
    """PostgreSQL: another request stored the address between our look-up and our INSERT."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite's writer lock leaves no gap between the look-up and the insert")
    winner = admin.post("/cases", {"customer": {"emails": ["race@example.com"]}, "body": "First."}).json()
    real_owners_of = customer_repository.owners_of
    calls = []

    def owners_of_missing_the_winner(session, keys):  # type: ignore[no-untyped-def]
        calls.append(1)
        return {} if len(calls) == 1 else real_owners_of(session, keys)

    monkeypatch.setattr(customer_repository, "owners_of", owners_of_missing_the_winner)
    with unit_of_work(session_factory) as session:
        customer = customer_service.recognise_or_create(
            session,
            data=CustomerIn(emails=["Race@Example.com"]),
            now=clock.now(),
            default_timezone="UTC",
            prefix="",
        )
        assert customer.id == winner["customer_id"]
    assert len(calls) == 2  # the lost INSERT was retried as a look-up
    with session_factory() as session:
        assert len(session.scalars(select(Customer.id)).all()) == 1
