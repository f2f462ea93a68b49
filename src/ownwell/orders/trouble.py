"""P3 writers: an order in trouble gets one owned case and the customer hears it from us first.
Called in the transaction that recorded the event (or by the late sweep); they flush, never
commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.cases import rules as case_rules
from ownwell.cases import timeline
from ownwell.cases.models import Case, CaseChannel, CaseKind, Visibility
from ownwell.cases.repository import CaseFilter
from ownwell.cases.service import cadence_for, case_portal_url, open_case, tell_customer
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.customers.models import Customer
from ownwell.notifications import render
from ownwell.orders import rules
from ownwell.orders.models import Order, OrderEvent
from ownwell.staff.models import Staff

# The case subject names the order and the problem in the staff's words.
SUBJECTS = {
    "late_eta": "delivery later than promised",
    "exception": "carrier reported a problem",
    "promise_passed": "not delivered by the promised date",
}


def problem(order: Order, trouble: rules.Trouble, zone: str) -> str:
    return render.order_problem(
        reason=trouble.reason,
        order_ref=order.external_id,
        promised_by=order.promised_by,
        eta=trouble.eta,
        note=trouble.note,
        zone=zone,
    )


def _notice(
    order: Order,
    trouble: rules.Trouble,
    *,
    customer: Customer,
    owner: Staff,
    case: Case,
    url: str,
    update: bool,
) -> tuple[str, str]:
    return render.order_trouble(
        customer_name=customer.name,
        owner_name=owner.name,
        order_ref=order.external_id,
        reason=trouble.reason,
        problem=problem(order, trouble, customer.timezone),
        eta=trouble.eta,
        next_update=case.next_update_due,
        zone=customer.timezone,
        portal_url=url,
        update=update,
    )


def _customer_case(session: Session, order: Order) -> Case | None:
    """The customer's own active case about this order, if they already told us (oldest)."""
    flt = CaseFilter(order_id=order.id, customer_id=order.customer_id)
    active = [
        c
        for c in case_repository.list_page(session, flt, limit=200, cursor=None)
        if case_rules.is_active(c.status)
    ]
    return case_repository.get(session, active[-1].id, for_update=True) if active else None


def tell_on_case(
    session: Session,
    *,
    case: Case,
    order: Order,
    trouble: rules.Trouble,
    customer: Customer,
    key: str,
    now: datetime,
    settings: Settings,
    update: bool,
) -> None:
    """A customer-visible update on an existing case: timeline, a new cadence window, the notice."""
    timeline.record(
        session,
        case_id=case.id,
        kind="order_problem",
        at=now,
        visibility=Visibility.customer,
        text=problem(order, trouble, customer.timezone),
        data={
            "order_id": order.id,
            "reason": trouble.reason,
            "eta": trouble.eta.isoformat() if trouble.eta else None,
        },
    )
    case.next_update_due = case_rules.next_update_due(now, cadence_for(session, case.kind))
    case.first_response_at = case.first_response_at or now
    case.updated_at = now
    url = case_portal_url(case, settings=settings, now=now)
    subject, body = _notice(
        order, trouble, customer=customer, owner=case.owner, case=case, url=url, update=update
    )
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=key,
        kind="order_update" if update else "proactive_notice",
        subject=subject,
        body=body,
        now=now,
        settings=settings,
    )


def take_on(
    session: Session, *, order: Order, trouble: rules.Trouble, now: datetime, settings: Settings
) -> Case:
    """The first time an order is in trouble: the customer's own case about it if they have one,
    else one proactive complaint owned by a member of the order's department (P2)."""
    customer = customer_repository.get(session, order.customer_id)
    case = _customer_case(session, order)
    if case is not None:
        tell_on_case(
            session,
            case=case,
            order=order,
            trouble=trouble,
            customer=customer,
            key=f"order-trouble:{order.id}",
            now=now,
            settings=settings,
            update=False,
        )
    else:
        case = open_case(
            session,
            customer=customer,
            subject=f"Order {order.external_id}: {SUBJECTS[trouble.reason]}",
            body=problem(order, trouble, customer.timezone),
            kind=CaseKind.complaint,
            channel=CaseChannel.proactive,
            department_id=order.department_id,
            order_id=order.id,
            actor=None,
            now=now,
            settings=settings,
            first_message=lambda new, owner, url: _notice(
                order, trouble, customer=customer, owner=owner, case=new, url=url, update=False
            ),
        )
    order.trouble_case_id = case.id
    order.trouble_reason = trouble.reason
    order.trouble_at = now
    # Not flushed here: nothing read in this transaction depends on these three columns; the
    # next flush writes them with the rest (at the latest the caller's savepoint or commit).
    return case


def detect(
    session: Session, *, order: Order, events: list[OrderEvent], now: datetime, settings: Settings
) -> Case | None:
    """Open the order's trouble case if it is in trouble and has none yet; else nothing."""
    if order.trouble_case_id is not None:
        return None
    found = rules.trouble(order, events, now)
    return take_on(session, order=order, trouble=found, now=now, settings=settings) if found else None
