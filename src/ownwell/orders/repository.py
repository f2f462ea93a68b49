"""Every query of the orders domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from ownwell.errors import InvalidInput, NotFound
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.orders.models import SETTLED_STATUSES, Order, OrderEvent
from ownwell.orders.rules import EventFacts
from ownwell.orders.schemas import MAX_BATCH

# Opening or resolving a case moves its owner's open-case counter (a staff row, locked until
# commit). A transaction that may do that for many orders takes this lock first, so two of them
# never lock staff rows in opposite orders (a deadlock); the rest of their work stays concurrent.
CASE_WRITES_LOCK = 0x6F726465  # "orde"


def serialise_case_writes(session: Session) -> None:
    """Wait for other many-case writers to commit (PostgreSQL; SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CASE_WRITES_LOCK)))


def get(session: Session, order_id: str, *, for_update: bool = False) -> Order:
    order = None
    if looks_like_id("ord", order_id):
        stmt = select(Order).where(Order.id == order_id)
        if for_update:
            stmt = stmt.with_for_update()
        order = session.scalars(stmt).one_or_none()
    if order is None:
        raise NotFound(f"no order with id {order_id!r}")
    return order


def require(session: Session, order_id: str, *, field: str) -> Order:
    """The order an input names, or a 422 on that field (a reference, not a path)."""
    try:
        return get(session, order_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field=field) from exc


def by_external_id(session: Session, external_id: str) -> Order | None:
    return session.scalars(select(Order).where(Order.external_id == external_id)).one_or_none()


def lock_facts_by_external_ids(session: Session, external_ids: Iterable[str]) -> dict[str, Row[Any]]:
    """Lock the orders a batch names, in id order, so that two concurrent batches touching the
    same orders queue behind each other instead of deadlocking. One statement for a whole batch
    (at most MAX_BATCH orders), so the id order holds across all of them.

    The rows come as plain column tuples (attribute access like an Order): most events of a
    batch only read their order, and building hundreds of ORM objects a batch cost more than
    the statements. The few orders that need a case are loaded as objects later (`get_many`)."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(wanted), MAX_BATCH):
        stmt = (
            select(*_ORDER_COLUMNS)
            .where(_ORDER_COLUMNS.external_id.in_(wanted[start : start + MAX_BATCH]))
            .order_by(_ORDER_COLUMNS.id)
            .with_for_update()
        )
        found.update({row.external_id: row for row in session.execute(stmt)})
    return found


def get_many(session: Session, order_ids: Iterable[str]) -> dict[str, Order]:
    """These orders as objects, in one statement (the caller holds their locks already)."""
    wanted = list(dict.fromkeys(order_ids))
    found: dict[str, Order] = {}
    for start in range(0, len(wanted), 500):
        stmt = select(Order).where(Order.id.in_(wanted[start : start + 500]))
        found.update({order.id: order for order in session.scalars(stmt)})
    return found


def event_facts_of(session: Session, order_ids: Sequence[str]) -> dict[str, list[EventFacts]]:
    """`events_of` as plain column tuples, for batch ingest (see lock_facts_by_external_ids)."""
    found: dict[str, list[EventFacts]] = {order_id: [] for order_id in order_ids}
    for start in range(0, len(order_ids), 500):
        stmt = (
            select(*_EVENT_COLUMNS)
            .where(_EVENT_COLUMNS.order_id.in_(order_ids[start : start + 500]))
            .order_by(_EVENT_COLUMNS.occurred_at, _EVENT_COLUMNS.id)
        )
        for row in session.execute(stmt):
            found[row.order_id].append(row)  # type: ignore[arg-type]
    return found


_ORDER_COLUMNS = Order.__table__.c
_EVENT_COLUMNS = OrderEvent.__table__.c


def events_of(session: Session, order_ids: Sequence[str]) -> dict[str, list[OrderEvent]]:
    """Every event of these orders, oldest first, by order (the rules read all of them)."""
    found: dict[str, list[OrderEvent]] = {order_id: [] for order_id in order_ids}
    for start in range(0, len(order_ids), 500):
        stmt = (
            select(OrderEvent)
            .where(OrderEvent.order_id.in_(order_ids[start : start + 500]))
            .order_by(OrderEvent.occurred_at, OrderEvent.id)
        )
        for event in session.scalars(stmt):
            found[event.order_id].append(event)
    return found


def list_page(
    session: Session,
    *,
    customer_id: str | None,
    external_id: str | None,
    limit: int,
    cursor: str | None,
) -> Sequence[Order]:
    stmt = select(Order)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if external_id is not None:
        stmt = stmt.where(Order.external_id == external_id)
    return session.scalars(paginate_desc(stmt, Order.id, limit=limit, cursor=cursor)).all()


def late_untroubled(session: Session, *, now: datetime, limit: int) -> Sequence[Order]:
    """Undelivered orders past their promise that no case handles yet, claimed so that
    concurrent workers take different rows."""
    return session.scalars(
        select(Order)
        .where(
            Order.trouble_case_id.is_(None),
            Order.promised_by < now,
            Order.status.not_in(SETTLED_STATUSES),
        )
        .order_by(Order.promised_by, Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
