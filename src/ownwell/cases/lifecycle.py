"""Writers of a case's life after intake: transfer (P1), resolve and reopen (P9).
Like every service, they flush and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import rules, timeline
from ownwell.cases.models import Case, CaseStatus, Visibility
from ownwell.cases.service import cadence_for, case_portal_url, move_status, tell_customer
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.customers.models import Customer
from ownwell.db import insert_new
from ownwell.errors import Conflict, InvalidInput
from ownwell.feedback.links import feedback_url
from ownwell.feedback.scheduling import cancel_check_ins, schedule_check_in
from ownwell.notifications import render
from ownwell.staff.models import Staff
from ownwell.staff.service import adjust_open_cases


def transfer_case(
    session: Session,
    *,
    case: Case,
    to: Staff,
    note: str,
    actor: Staff | None,
    now: datetime,
    settings: Settings,
) -> Case:
    """P1: ownership moves from one named person to another, with a written hand-off."""
    if not note.strip():
        raise InvalidInput("a transfer needs a hand-off note", field="handoff_note")
    if to.id == case.owner_id:
        raise Conflict(f"{to.name} already owns this case", field="to_staff_id")
    if not to.active:
        raise Conflict(f"{to.name} is deactivated and cannot own cases", field="to_staff_id")
    old_owner = case.owner
    if rules.is_active(CaseStatus(case.status)):
        # In staff-id order, as every writer of these counters takes their rows: no deadlocks.
        for staff_id, delta in sorted(((old_owner.id, -1), (to.id, 1))):
            adjust_open_cases(session, staff_id, delta)
    case.owner_id = to.id
    case.owner = to
    case.updated_at = now
    people = {"from": timeline.person(old_owner), "to": timeline.person(to)}
    timeline.record(
        session,
        case_id=case.id,
        kind="handoff",
        at=now,
        visibility=Visibility.internal,
        text=note.strip(),
        staff=actor,
        data=people,
    )
    event = timeline.record(
        session,
        case_id=case.id,
        kind="owner_changed",
        at=now,
        visibility=Visibility.customer,
        text=f"{old_owner.name} handed this case to {to.name}, who owns it now.",
        staff=actor,
        data=people,
    )
    customer = customer_repository.get(session, case.customer_id)
    subject, body = render.new_owner(
        customer_name=customer.name,
        old_owner=old_owner.name,
        new_owner=to.name,
        subject=case.subject,
        portal_url=case_portal_url(case, settings=settings, now=now),
    )
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"owner-changed:{event.id}",
        kind="owner_changed",
        subject=subject,
        body=body,
        now=now,
        settings=settings,
    )
    session.flush()
    return case


def resolve_case(
    session: Session,
    *,
    case: Case,
    summary: str,
    tip: str | None,
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> Case:
    if CaseStatus(case.status) in (CaseStatus.resolved, CaseStatus.closed):
        raise Conflict(f"this case is already {case.status}", code="invalid_transition")
    move_status(session, case, CaseStatus.resolved, now=now)
    case.resolved_at = now
    case.next_update_due = None
    event = timeline.record(
        session,
        case_id=case.id,
        kind="resolved",
        at=now,
        visibility=Visibility.customer,
        text=summary.strip(),
        staff=actor,
        data={"next_issue_tip": tip},
    )
    customer = customer_repository.get(session, case.customer_id)
    subject, body = render.resolution(
        customer_name=customer.name,
        owner_name=case.owner.name,
        subject=case.subject,
        summary=summary.strip(),
        tip=tip,
        portal_url=case_portal_url(case, settings=settings, now=now),
        confirm_url=feedback_url(
            settings, customer_id=customer.id, case_id=case.id, now=now, source="confirm"
        ),
    )
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"resolved:{event.id}",
        kind="resolution",
        subject=subject,
        body=body,
        now=now,
        settings=settings,
        fresh=True,  # the key names an event made just now: no earlier message can hold it
    )
    schedule_check_in(session, case_id=case.id, now=now, days=settings.check_in_days)
    insert_new(session)
    return case


def reopen_case(
    session: Session,
    *,
    case: Case,
    reason: str,
    actor: Staff | None,
    now: datetime,
    settings: Settings,
    customer_actor: Customer | None = None,
) -> Case:
    """P9: a case comes back to the same owner, who already knows it."""
    if rules.is_active(CaseStatus(case.status)):
        raise Conflict(f"this case is {case.status}, not resolved or closed", code="invalid_transition")
    cancel_check_ins(session, case_id=case.id)
    move_status(session, case, CaseStatus.open, now=now)
    case.reopen_count += 1
    case.resolved_at = None
    case.next_update_due = rules.next_update_due(now, cadence_for(session, case.kind))
    event = timeline.record(
        session,
        case_id=case.id,
        kind="reopened",
        at=now,
        visibility=Visibility.customer,
        text=reason.strip(),
        staff=actor,
        customer=customer_actor,
    )
    customer = customer_repository.get(session, case.customer_id)
    subject, body = render.reopened(
        customer_name=customer.name,
        owner_name=case.owner.name,
        subject=case.subject,
        reason=reason.strip(),
        portal_url=case_portal_url(case, settings=settings, now=now),
    )
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"reopened:{event.id}",
        kind="reopened",
        subject=subject,
        body=body,
        now=now,
        settings=settings,
    )
    session.flush()
    return case
