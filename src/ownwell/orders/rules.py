"""Pure rules of the orders domain (P3): where an order stands, and whether it is in trouble.
Functions of (order, events, now); no database, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from ownwell.orders.models import SETTLED_STATUSES, OrderEventType, OrderStatus, TroubleReason


class OrderFacts(Protocol):
    promised_by: datetime
    status: OrderStatus
    eta: datetime | None
    delivered_at: datetime | None


class EventFacts(Protocol):
    id: str
    type: OrderEventType
    occurred_at: datetime
    eta: datetime | None
    note: str | None


E = TypeVar("E", bound=EventFacts)


@dataclass(frozen=True)
class Fulfilment:
    status: OrderStatus
    eta: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class Trouble:
    reason: TroubleReason
    # The new date the carrier gave, when it gave one.
    eta: datetime | None
    note: str | None


def _latest(events: Sequence[EventFacts]) -> EventFacts | None:
    return max(events, key=lambda e: (e.occurred_at, e.id), default=None)


def is_duplicate(events: Sequence[E], *, type: str, occurred_at: datetime) -> E | None:
    """The event already told, if this one is a replay: the same type at the same moment."""
    return next((e for e in events if e.type == type and e.occurred_at == occurred_at), None)


def fulfilment(order: OrderFacts, events: Sequence[EventFacts]) -> Fulfilment:
    """Where the order stands. Events may arrive out of order, so the latest *occurred* wins;
    delivered and cancelled are final, whatever a late-arriving older event says."""
    delivered = [e.occurred_at for e in events if e.type == OrderEventType.delivered]
    with_eta = _latest([e for e in events if e.eta is not None])
    eta = with_eta.eta if with_eta else None
    if delivered:
        return Fulfilment(OrderStatus.delivered, eta, min(delivered))
    if order.status == OrderStatus.delivered:
        return Fulfilment(OrderStatus.delivered, eta, order.delivered_at)
    if order.status == OrderStatus.cancelled or any(e.type == OrderEventType.cancelled for e in events):
        return Fulfilment(OrderStatus.cancelled, eta, None)
    latest = _latest(events)
    return Fulfilment(OrderStatus(latest.type) if latest else order.status, eta, None)


def _late_eta(order: OrderFacts, eta: datetime | None) -> bool:
    return eta is not None and eta > order.promised_by


def trouble(order: OrderFacts, events: Sequence[EventFacts], now: datetime) -> Trouble | None:
    """Is the order in trouble now: an exception, a carrier ETA after the promise, or the
    promise passed with nothing delivered? None for a settled order."""
    state = fulfilment(order, events)
    if state.status in SETTLED_STATUSES:
        return None
    signals = [
        e
        for e in events
        if e.type == OrderEventType.exception
        or (e.type == OrderEventType.delayed and _late_eta(order, e.eta))
    ]
    latest = _latest(signals)
    if latest is not None and latest.type == OrderEventType.exception:
        return Trouble(TroubleReason.exception, eta=latest.eta or _future(state.eta, now), note=latest.note)
    if _late_eta(order, state.eta):
        return Trouble(TroubleReason.late_eta, eta=state.eta, note=latest.note if latest else None)
    if now > order.promised_by:
        return Trouble(TroubleReason.promise_passed, eta=_future(state.eta, now), note=None)
    return None


def news(order: OrderFacts, event: EventFacts, *, previous_eta: datetime | None) -> Trouble | None:
    """For an order whose trouble is already handled (and `order` already brought up to date
    with `event`): is this something new to tell the customer — another exception, or a new
    late date? An older event arriving late changes no current date, so it is no news."""
    if order.status in SETTLED_STATUSES:
        return None
    if event.type == OrderEventType.exception:
        return Trouble(TroubleReason.exception, eta=event.eta, note=event.note)
    moved = event.eta is not None and event.eta == order.eta and order.eta != previous_eta
    if event.type == OrderEventType.delayed and moved and _late_eta(order, order.eta):
        return Trouble(TroubleReason.late_eta, eta=order.eta, note=event.note)
    return None


def _future(eta: datetime | None, now: datetime) -> datetime | None:
    # An estimate already in the past is no new date to give anyone.
    return eta if eta is not None and eta > now else None
