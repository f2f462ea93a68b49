"""The only writers of orders and their events. They flush, never commit; the detection of
trouble (trouble.py) runs in the same transaction as the event that reveals it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.orders import repository, rules, updates
from ownwell.orders.models import Order, OrderEvent, OrderStatus
from ownwell.orders.schemas import OrderEventIn, OrderIn
from ownwell.staff import repository as staff_repository


def _customer(session: Session, data: OrderIn, *, now: datetime, settings: Settings) -> Customer:
    if data.customer_id is not None:
        try:
            return customer_repository.get(session, data.customer_id)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="customer_id") from exc
    assert data.customer is not None
    return customer_service.recognise_or_create(
        session, data=data.customer, now=now, default_timezone=settings.timezone, prefix="customer."
    )


def create_order(
    session: Session,
    *,
    data: OrderIn,
    now: datetime,
    settings: Settings,
    status: OrderStatus = OrderStatus.placed,
    delivered_at: datetime | None = None,
) -> Order:
    """A new order to watch. `status` and `delivered_at` let an import bring history along."""
    taken = f"an order with external_id {data.external_id!r} exists already"
    if repository.by_external_id(session, data.external_id) is not None:
        raise Conflict(taken, field="external_id")
    try:
        department = staff_repository.get_department(session, data.department_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="department_id") from exc
    customer = _customer(session, data, now=now, settings=settings)
    order = Order(
        id=new_id("ord"),
        external_id=data.external_id,
        customer_id=customer.id,
        department_id=department.id,
        promised_by=data.promised_by,
        status=status,
        delivered_at=delivered_at,
        created_at=now,
        updated_at=now,
    )
    try:
        # Two requests creating the same order race on the unique external id.
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(taken, field="external_id") from exc
    return order


def new_event(order: Order, data: OrderEventIn, *, now: datetime) -> OrderEvent:
    """The event row, not yet added to the session."""
    return OrderEvent(
        id=new_id("oev"),
        order_id=order.id,
        type=data.type,
        occurred_at=data.occurred_at,
        eta=data.eta,
        note=(data.note or "").strip() or None,
        received_at=now,
    )


def record_event(
    session: Session,
    *,
    order: Order,
    events: list[OrderEvent],
    data: OrderEventIn,
    now: datetime,
    settings: Settings,
) -> tuple[OrderEvent, bool]:
    """Record what the fulfilment side told us, once, and act on it. The caller holds the
    order's row lock and passes all its events (this appends the new one). Returns the event
    and whether it is new; a replay (same type at the same moment) changes nothing."""
    existing = rules.is_duplicate(events, type=data.type, occurred_at=data.occurred_at)
    if existing is not None:
        return existing, False
    event = new_event(order, data, now=now)
    before = rules.Fulfilment(order.status, order.eta, order.delivered_at)
    session.add(event)
    events.append(event)
    state = rules.fulfilment(order, events)
    order.status, order.eta, order.delivered_at = state.status, state.eta, state.delivered_at
    order.updated_at = now
    # No flush here: what react() reads (cases, outbox keys) does not depend on these rows; the
    # next flush writes them with the rest (at the latest the caller's savepoint or commit), so
    # the order's UPDATE goes once, not twice.
    updates.react(session, order=order, event=event, events=events, before=before, now=now, settings=settings)
    return event, True
