"""What later fulfilment events mean for an order whose trouble a case already handles: news
for the customer, the loop closed on delivery, the owner told. They flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import lifecycle, timeline
from ownwell.cases import repository as case_repository
from ownwell.cases import rules as case_rules
from ownwell.cases.models import Case, CaseStatus, Visibility
from ownwell.cases.service import case_portal_url, tell_customer
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.notifications import render
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.orders import rules, trouble
from ownwell.orders.models import Order, OrderEvent, OrderEventType, OrderStatus


def _tell_owner(
    session: Session,
    *,
    case: Case,
    key: str,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    settings: Settings,
) -> None:
    url = f"{settings.base_url}/app/cases/{case.id}"
    enqueue_to_staff(
        session,
        staff_id=case.owner.id,
        email=case.owner.email,
        key=key,
        kind=kind,
        subject=subject,
        body=f"{case.owner.name},\n\n{body}\n\n{url}",
        now=now,
        settings=settings,
        case_id=case.id,
    )


def _delivered(
    session: Session, *, case: Case, order: Order, event: OrderEvent, now: datetime, settings: Settings
) -> None:
    """Close the loop: the timeline, the owner, and the customer (resolving our own case)."""
    customer = customer_repository.get(session, order.customer_id)
    line = render.order_delivered_line(
        order_ref=order.external_id, delivered_at=event.occurred_at, zone=customer.timezone
    )
    timeline.record(
        session,
        case_id=case.id,
        kind="order_delivered",
        at=now,
        visibility=Visibility.customer,
        text=line,
        data={"order_id": order.id, "event_id": event.id, "delivered_at": event.occurred_at.isoformat()},
    )
    active = case_rules.is_active(CaseStatus(case.status))
    if active and case.proactive:
        lifecycle.resolve_case(
            session, case=case, summary=line, tip=None, actor=case.owner, now=now, settings=settings
        )
        done = "The case is resolved and the customer was told; they are asked to confirm it."
    elif active:
        subject, body = render.order_delivered(
            customer_name=customer.name,
            owner_name=case.owner.name,
            line=line,
            portal_url=case_portal_url(case, settings=settings, now=now),
        )
        tell_customer(
            session,
            case=case,
            customer=customer,
            key=f"order-delivered:{order.id}",
            kind="order_delivered",
            subject=subject,
            body=body,
            now=now,
            settings=settings,
        )
        done = "The customer has been told. Check whether anything else is open, then resolve the case."
    else:
        done = f"The case is {case.status} already; nothing was sent to the customer."
    _tell_owner(
        session,
        case=case,
        key=f"order-delivered-owner:{order.id}",
        kind="order_delivered",
        subject=f"Delivered: order {order.external_id}",
        body=f"Order {order.external_id} ({case.subject}) was delivered. {done}",
        now=now,
        settings=settings,
    )


def react(
    session: Session,
    *,
    order: Order,
    event: OrderEvent,
    events: list[OrderEvent],
    before: rules.Fulfilment,
    now: datetime,
    settings: Settings,
) -> None:
    """What a newly recorded event means for the customer. `order` is already up to date with
    it; `before` is where the order stood without it."""
    if order.trouble_case_id is None:
        trouble.detect(session, order=order, events=events, now=now, settings=settings)
        return
    case = case_repository.get(session, order.trouble_case_id, for_update=True)
    if event.type == OrderEventType.delivered and before.status != OrderStatus.delivered:
        _delivered(session, case=case, order=order, event=event, now=now, settings=settings)
        return
    if event.type == OrderEventType.cancelled and before.status != OrderStatus.cancelled:
        timeline.record(
            session,
            case_id=case.id,
            kind="order_cancelled",
            at=now,
            visibility=Visibility.internal,
            text=f"Order {order.external_id} was cancelled.",
            data={"event_id": event.id},
        )
        _tell_owner(
            session,
            case=case,
            key=f"order-cancelled-owner:{order.id}",
            kind="order_cancelled",
            subject=f"Cancelled: order {order.external_id}",
            body=f"Order {order.external_id} ({case.subject}) was cancelled. Make sure the customer "
            "knows what happens to their money, then resolve the case.",
            now=now,
            settings=settings,
        )
        return
    found = rules.news(order, event, previous_eta=before.eta)
    if found is None:
        timeline.record(
            session,
            case_id=case.id,
            kind="order_event",
            at=now,
            visibility=Visibility.internal,
            text=f"Order {order.external_id}: {event.type}",
            data={"event_id": event.id},
        )
        return
    customer = customer_repository.get(session, order.customer_id)
    if case_rules.is_active(CaseStatus(case.status)):
        trouble.tell_on_case(
            session,
            case=case,
            order=order,
            trouble=found,
            customer=customer,
            key=f"order-news:{event.id}",
            now=now,
            settings=settings,
            update=True,
        )
    else:
        # The trouble came back after the case was closed: the same owner picks it up again (P9).
        lifecycle.reopen_case(
            session,
            case=case,
            reason=trouble.problem(order, found, customer.timezone),
            actor=None,
            now=now,
            settings=settings,
        )
