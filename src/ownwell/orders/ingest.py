"""`POST /order-events`: up to 1,000 fulfilment events at once, each answered on its own.

Most events only move an order along (shipped, an ETA still within the promise, delivered
with no trouble case). They are simulated in memory first and written together in one
savepoint; an event that needs the case side (a new problem, or an order whose trouble a case
already handles) and every later event of that order go one by one, each in its own
savepoint. If the group write fails, its events are redone one by one as well, so one bad
item never rejects the others and a rejected item leaves nothing behind."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, update
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.db import database_unavailable, insert_new, shared_writes
from ownwell.errors import AppError, InvalidInput, NotFound
from ownwell.orders import repository, rules, service
from ownwell.orders.models import Order, OrderEvent, OrderStatus
from ownwell.orders.rules import EventFacts
from ownwell.orders.schemas import ItemStatus, OrderEventItemIn, RejectedItem

log = logging.getLogger(__name__)

_MOVE_ORDER = (
    update(Order.__table__)
    .where(Order.__table__.c.id == bindparam("order_key"))
    .values(
        status=bindparam("status"),
        eta=bindparam("eta"),
        delivered_at=bindparam("delivered_at"),
        updated_at=bindparam("updated_at"),
    )
)


@dataclass(frozen=True)
class Outcome:
    status: ItemStatus
    event_id: str | None = None
    order_id: str | None = None
    error: AppError | None = None


@dataclass(frozen=True)
class _State:
    """An order's facts as the simulation moves it along (rules.OrderFacts)."""

    promised_by: datetime
    status: OrderStatus
    eta: datetime | None
    delivered_at: datetime | None


def _rejected(index: int, error: AppError, field: str | None) -> Outcome:
    path = f"items.{index}" + (f".{field}" if field else "")
    return Outcome(ItemStatus.rejected, error=type(error)(error.message, field=path, code=error.code))


def _one_by_one(
    session: Session,
    *,
    index: int,
    item: OrderEventItemIn,
    order: Order,
    events: list[EventFacts],
    now: datetime,
    settings: Settings,
) -> Outcome:
    known = list(events)
    try:
        with session.begin_nested():
            event, new = service.record_event(
                session, order=order, events=events, data=item, now=now, settings=settings
            )
        return Outcome(ItemStatus.accepted if new else ItemStatus.duplicate, event.id, order.id)
    except AppError as exc:
        events[:] = known
        return _rejected(index, exc, exc.field)
    except Exception as exc:
        if database_unavailable(exc):
            raise  # the boundary says so in one line; every other row would fail too
        events[:] = known
        log.exception("order event %d of a batch (order %s) failed; rejected", index, order.id)
        failed = AppError("this event could not be stored; it was logged; send it again", code="internal")
        return _rejected(index, failed, None)


def ingest_batch(
    session: Session,
    *,
    items: Sequence[OrderEventItemIn | RejectedItem],
    now: datetime,
    settings: Settings,
) -> list[Outcome]:
    """One outcome per item, in order. The caller's transaction holds it all; every order the
    batch names is locked first, in id order, so concurrent batches queue instead of racing."""
    valid_at = {index: item for index, item in enumerate(items) if isinstance(item, OrderEventItemIn)}
    orders = repository.lock_facts_by_external_ids(
        session, [item.order_external_id for item in valid_at.values()]
    )
    events = repository.event_facts_of(session, [order.id for order in orders.values()])
    outcomes: dict[int, Outcome] = {}
    states = {o.id: _State(o.promised_by, o.status, o.eta, o.delivered_at) for o in orders.values()}
    seen = {order_id: list(found) for order_id, found in events.items()}
    group: list[tuple[int, OrderEvent]] = []
    careful: list[tuple[int, OrderEventItemIn, Row[Any]]] = []
    needs_care: set[str] = set()
    for index, item in enumerate(items):
        if isinstance(item, RejectedItem):
            outcomes[index] = _rejected(index, InvalidInput(item.message), item.field)
            continue
        order = orders.get(item.order_external_id)
        if order is None:
            missing = NotFound(f"no order with external_id {item.order_external_id!r}")
            outcomes[index] = _rejected(index, missing, "order_external_id")
            continue
        if order.id in needs_care:
            careful.append((index, item, order))
            continue
        twin = rules.is_duplicate(seen[order.id], type=item.type, occurred_at=item.occurred_at)
        if twin is not None:
            outcomes[index] = Outcome(ItemStatus.duplicate, twin.id, order.id)
            continue
        event = service.new_event(order, item, now=now)
        after = rules.fulfilment(states[order.id], [*seen[order.id], event])
        state = replace(states[order.id], status=after.status, eta=after.eta, delivered_at=after.delivered_at)
        if order.trouble_case_id is not None or rules.trouble(state, [*seen[order.id], event], now):
            needs_care.add(order.id)
            careful.append((index, item, order))
            continue
        seen[order.id].append(event)
        states[order.id] = state
        group.append((index, event))
    if group and not _write_group(session, group, states=states, events=events, now=now):
        by_id = {o.id: o for o in orders.values()}
        redo = [(index, valid_at[index], by_id[event.order_id]) for index, event in group]
        careful = sorted([*redo, *careful], key=lambda entry: entry[0])
        group = []
    for index, event in group:
        outcomes[index] = Outcome(ItemStatus.accepted, event.id, event.order_id)
    if careful:
        repository.serialise_case_writes(session)
        # Objects now, after the group write: they read what it wrote.
        loaded = repository.get_many(session, [order.id for _, _, order in careful])
        for work in _rounds([(index, item, loaded[order.id]) for index, item, order in careful]):
            together = _careful_together(session, work, events=events, now=now, settings=settings)
            if together is not None:
                outcomes.update(together)
                continue
            for index, item, order in work:
                order_events = events[order.id]
                outcomes[index] = _one_by_one(
                    session,
                    index=index,
                    item=item,
                    order=order,
                    events=order_events,
                    now=now,
                    settings=settings,
                )
    return [outcomes[index] for index in range(len(items))]


def _rounds(
    work: list[tuple[int, OrderEventItemIn, Order]],
) -> list[list[tuple[int, OrderEventItemIn, Order]]]:
    """At most one event per order in each round, in the batch's order: a case opened in a
    shared block is written at its end, so the order's next event (its delivery, say) must come
    in the next block to find it."""
    rounds: list[list[tuple[int, OrderEventItemIn, Order]]] = []
    taken: dict[str, int] = {}
    for entry in work:
        order_id = entry[2].id
        nth = taken.get(order_id, 0)
        taken[order_id] = nth + 1
        if nth == len(rounds):
            rounds.append([])
        rounds[nth].append(entry)
    return rounds


def _careful_together(
    session: Session,
    work: list[tuple[int, OrderEventItemIn, Order]],
    *,
    events: dict[str, list[EventFacts]],
    now: datetime,
    settings: Settings,
) -> dict[int, Outcome] | None:
    """The events that open or touch a case, all in one savepoint instead of one each, their
    new rows written together at its end. None if any of them failed: nothing of them is left,
    and the caller takes them one by one, so that only the failing one is rejected."""
    known = {order.id: list(events[order.id]) for _, _, order in work}
    outcomes: dict[int, Outcome] = {}
    try:
        # New rows and routing counters of all of them go in together at the end (db.shared_writes).
        with session.begin_nested(), shared_writes(session):
            for index, item, order in work:
                event, new = service.record_event(
                    session, order=order, events=events[order.id], data=item, now=now, settings=settings
                )
                status = ItemStatus.accepted if new else ItemStatus.duplicate
                outcomes[index] = Outcome(status, event.id, order.id)
    except Exception as exc:
        if database_unavailable(exc):
            raise  # the boundary says so in one line; one by one would fail too
        if isinstance(exc, AppError):  # bad input, mostly: the one-by-one pass names the item
            log.info("%d order events that touch cases failed together (%s); one by one now", len(work), exc)
        else:
            log.warning(
                "%d order events that touch cases failed together; one by one now", len(work), exc_info=True
            )
        for order_id, found in known.items():
            events[order_id][:] = found
        return None
    return outcomes


def _write_group(
    session: Session,
    group: list[tuple[int, OrderEvent]],
    *,
    states: dict[str, _State],
    events: dict[str, list[EventFacts]],
    now: datetime,
) -> bool:
    """Write the simulated events and order states in one savepoint; False if it failed."""
    moved = sorted({event.order_id for _, event in group})
    try:
        with session.begin_nested():
            session.add_all([event for _, event in group])
            insert_new(session)
            # One executemany UPDATE for the orders (no order objects exist to keep in step).
            session.connection().execute(
                _MOVE_ORDER,
                [
                    {
                        "order_key": order_id,
                        "status": states[order_id].status,
                        "eta": states[order_id].eta,
                        "delivered_at": states[order_id].delivered_at,
                        "updated_at": now,
                    }
                    for order_id in moved
                ],
            )
    except Exception as exc:
        if database_unavailable(exc):
            raise  # the boundary says so in one line; every other row would fail too
        log.exception("writing %d order events together failed; writing them one by one", len(group))
        return False
    for _, event in group:
        events[event.order_id].append(event)
    return True
