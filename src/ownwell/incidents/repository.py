"""Every query of the incidents domain. Sets of customers are read and written in chunks of
CHUNK rows, never one ORM object per customer: an incident may affect 100,000 of them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, Table, any_, bindparam, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from ownwell.customers.models import Customer, CustomerIdentifier, IdentifierKind
from ownwell.errors import NotFound
from ownwell.incidents.models import Incident, IncidentCase, IncidentCustomer, IncidentUpdate
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.notifications.models import OutboxMessage
from ownwell.orders.models import Order
from ownwell.staff.models import Staff, staff_departments

CHUNK = 5_000


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    same: dict[str, Any] | None = None,
    unique: str | None = None,
) -> None:
    """Core executemany in chunks. `same` holds the values every row shares, sent once in the
    statement rather than once per row; with `unique`, a row whose key is already there is
    skipped, so that replaying a chunk never writes anything twice."""
    dialect = session.get_bind().dialect.name
    if unique is not None and dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table).on_conflict_do_nothing(index_elements=[unique])
    else:
        stmt = table.insert()
    if same:
        stmt = stmt.values(**same)
    for part in chunks(rows):
        session.execute(stmt, list(part))


def _among(session: Session, column: Any, values: Sequence[str]) -> Any:
    # On PostgreSQL one array parameter rather than thousands of IN parameters, each of which
    # SQLAlchemy and psycopg would otherwise render and convert.
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(String)))
    return column.in_(values)


def get(session: Session, incident_id: str, *, for_update: bool = False) -> Incident:
    incident = None
    if looks_like_id("inc", incident_id):
        stmt = select(Incident).where(Incident.id == incident_id).options(joinedload(Incident.owner))
        if for_update:
            stmt = stmt.with_for_update(of=Incident)
        incident = session.scalars(stmt).one_or_none()
    if incident is None:
        raise NotFound(f"no incident with id {incident_id!r}")
    return incident


def list_page(session: Session, *, limit: int, cursor: str | None) -> Sequence[Incident]:
    stmt = select(Incident).options(joinedload(Incident.owner))
    return session.scalars(paginate_desc(stmt, Incident.id, limit=limit, cursor=cursor)).all()


def known_customer_ids(session: Session, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks([i for i in ids if looks_like_id("cus", i)]):
        found.update(session.scalars(select(Customer.id).where(_among(session, Customer.id, part))))
    return found


def customers_of_orders(session: Session, external_ids: Sequence[str]) -> dict[str, str]:
    """order external id -> its customer's id, for the orders that exist."""
    found: dict[str, str] = {}
    for part in chunks(external_ids):
        rows = session.execute(
            select(Order.external_id, Order.customer_id).where(Order.external_id.in_(part))
        )
        found.update({r.external_id: r.customer_id for r in rows})
    return found


def concierge_pool(session: Session, department_id: str) -> Sequence[Staff]:
    """The department's on-duty staff, least loaded first, for round-robin over the groups."""
    return session.scalars(
        select(Staff)
        .join(staff_departments, staff_departments.c.staff_id == Staff.id)
        .where(staff_departments.c.department_id == department_id, Staff.on_duty.is_(True))
        .order_by(Staff.open_case_count, Staff.id)
    ).all()


def groups_of(session: Session, incident_id: str) -> Sequence[Any]:
    """(group_no, concierge_id, concierge_name, customer_count) in group order."""
    return session.execute(
        select(
            IncidentCustomer.group_no,
            IncidentCustomer.concierge_id,
            Staff.name.label("concierge_name"),
            func.count().label("customer_count"),
        )
        .join(Staff, Staff.id == IncidentCustomer.concierge_id)
        .where(IncidentCustomer.incident_id == incident_id)
        .group_by(IncidentCustomer.group_no, IncidentCustomer.concierge_id, Staff.name)
        .order_by(IncidentCustomer.group_no)
    ).all()


def updates_of(session: Session, incident_id: str) -> Sequence[Any]:
    """(update, author name or None), oldest first."""
    return session.execute(
        select(IncidentUpdate, Staff.name.label("author_name"))
        .outerjoin(Staff, Staff.id == IncidentUpdate.author_id)
        .where(IncidentUpdate.incident_id == incident_id)
        .order_by(IncidentUpdate.number)
    ).all()


def delivery_counts(session: Session, incident_id: str) -> dict[int, dict[str, int]]:
    """update number -> outbox status -> rows, read from the outbox rows themselves (found by
    their idempotency keys), so a count is never more hopeful than the delivery was."""
    key = (
        literal("incident:")
        + IncidentUpdate.incident_id
        + literal(":")
        + cast(IncidentUpdate.number, String)
        + literal(":")
        + IncidentCustomer.customer_id
    )
    rows = session.execute(
        select(IncidentUpdate.number, OutboxMessage.status, func.count())
        .select_from(IncidentCustomer)
        .join(IncidentUpdate, IncidentUpdate.incident_id == IncidentCustomer.incident_id)
        .join(OutboxMessage, OutboxMessage.idempotency_key == key)
        .where(IncidentCustomer.incident_id == incident_id)
        .group_by(IncidentUpdate.number, OutboxMessage.status)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for number, status, count in rows:
        counts.setdefault(number, {})[status] = count
    return counts


def pending_updates(session: Session, *, limit: int) -> Sequence[IncidentUpdate]:
    """Updates still owed to some customers, oldest first, claimed so that concurrent workers
    take different ones. Only the oldest pending update of an incident: a customer never gets
    update 2 before update 1."""
    earlier = IncidentUpdate.__table__.alias("earlier")
    return session.scalars(
        select(IncidentUpdate)
        .where(
            IncidentUpdate.fanned_out_at.is_(None),
            ~select(earlier.c.id)
            .where(
                earlier.c.incident_id == IncidentUpdate.incident_id,
                earlier.c.fanned_out_at.is_(None),
                earlier.c.number < IncidentUpdate.number,
            )
            .exists(),
        )
        .order_by(IncidentUpdate.created_at, IncidentUpdate.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def member_ids(session: Session, incident_id: str, *, after: str | None, limit: int) -> Sequence[str]:
    """The next `limit` affected customers' ids after `after`, in id order (the fan-out order)."""
    stmt = (
        select(IncidentCustomer.customer_id)
        .where(IncidentCustomer.incident_id == incident_id)
        .order_by(IncidentCustomer.customer_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(IncidentCustomer.customer_id > after)
    return session.scalars(stmt).all()


def recipients(session: Session, incident_id: str, *, first: str, last: str) -> Sequence[Any]:
    """The affected customers with ids in [first, last], with what routing and the message need:
    name, preferences, quiet hours, time zone and their concierge's name. A closed range rather
    than ORDER BY ... LIMIT: right after a bulk insert PostgreSQL's statistics are stale, and it
    would join every remaining customer before sorting for the limit."""
    return session.execute(
        select(
            IncidentCustomer.customer_id,
            Customer.name,
            Customer.preferred_channel,
            Customer.quiet_start,
            Customer.quiet_end,
            Customer.timezone,
            Customer.do_not_contact,
            Staff.name.label("concierge_name"),
        )
        .join(Customer, Customer.id == IncidentCustomer.customer_id)
        .join(Staff, Staff.id == IncidentCustomer.concierge_id)
        .where(
            IncidentCustomer.incident_id == incident_id,
            IncidentCustomer.customer_id >= first,
            IncidentCustomer.customer_id <= last,
        )
    ).all()


def first_contacts(
    session: Session, incident_id: str, *, first: str, last: str
) -> dict[str, tuple[str | None, str | None]]:
    """customer id -> (first e-mail, first phone) for the affected customers in [first, last],
    the same "first" as the customer's identifiers list (by identifier id)."""
    rows = session.execute(
        select(CustomerIdentifier.customer_id, CustomerIdentifier.kind, CustomerIdentifier.value)
        .join(
            IncidentCustomer,
            (IncidentCustomer.customer_id == CustomerIdentifier.customer_id)
            & (IncidentCustomer.incident_id == incident_id),
        )
        # No filter on kind here: with fresh statistics PostgreSQL would use the (kind, system,
        # value) index for it and probe thousands of entries per customer; external ids are few.
        .where(IncidentCustomer.customer_id >= first, IncidentCustomer.customer_id <= last)
        .order_by(CustomerIdentifier.id)
    )
    found: dict[str, tuple[str | None, str | None]] = {}
    for customer_id, kind, value in rows:
        email, phone = found.get(customer_id, (None, None))
        if kind == IdentifierKind.email and email is None:
            email = value
        elif kind == IdentifierKind.phone and phone is None:
            phone = value
        found[customer_id] = (email, phone)
    return found


def member(
    session: Session, incident_id: str, customer_id: str, *, for_update: bool = False
) -> IncidentCustomer | None:
    stmt = select(IncidentCustomer).where(
        IncidentCustomer.incident_id == incident_id, IncidentCustomer.customer_id == customer_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def case_of(session: Session, incident_id: str, customer_id: str) -> str | None:
    return session.scalar(
        select(IncidentCase.case_id).where(
            IncidentCase.incident_id == incident_id, IncidentCase.customer_id == customer_id
        )
    )
