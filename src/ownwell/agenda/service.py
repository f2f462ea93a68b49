"""Assembles a person's agenda from the domains that owe things."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.agenda.schemas import AgendaItem, AgendaKind
from ownwell.cases import repository as case_repository
from ownwell.commitments import repository as commitment_repository
from ownwell.insights import repository as insights_repository
from ownwell.offers import repository as offer_repository
from ownwell.offers.models import OfferType
from ownwell.offers.rules import describe
from ownwell.staff.models import Staff


def agenda_for(session: Session, *, staff_id: str, until: datetime, limit: int) -> list[AgendaItem]:
    """Everything due by `until` (overdue included), earliest first."""
    items = [
        AgendaItem(
            kind=AgendaKind.commitment,
            due_at=c.due_at,
            case_id=c.case_id,
            commitment_id=c.id,
            text=c.text,
        )
        for c in commitment_repository.pending_for_owner(session, staff_id, until=until, limit=limit)
    ]
    items += [
        AgendaItem(
            kind=AgendaKind.update_due,
            due_at=c.next_update_due,
            case_id=c.id,
            commitment_id=None,  # type: ignore[arg-type]
            text=f"Update the customer: {c.subject}",
        )
        for c in case_repository.updates_due(session, staff_id, until=until, limit=limit)
    ]
    items += [
        AgendaItem(
            kind=AgendaKind.new_case,
            due_at=c.created_at,
            case_id=c.id,
            commitment_id=None,
            text=f"New case for you: {c.subject}",
        )
        for c in case_repository.awaiting_first_response(session, staff_id, limit=limit)
    ]
    staff = session.get(Staff, staff_id)
    if staff is not None:
        # Waiting now, whatever the horizon: the customer is waiting on the decision too.
        items += [
            AgendaItem(
                kind=AgendaKind.approval,
                due_at=o.approval_due_at,  # type: ignore[arg-type]
                case_id=o.case_id,
                commitment_id=None,
                offer_id=o.id,
                text=f"Approve or reject {describe(OfferType(o.type), o.amount, o.currency)} "
                f"proposed by {o.proposed_by.name}",
            )
            for o in offer_repository.awaiting(session, actor=staff, limit=limit)
        ]
    # Commitments to the business rather than to one customer: owed all the same (P10).
    items += [
        AgendaItem(
            kind=AgendaKind.prevention,
            due_at=p.due_at,
            case_id=None,
            commitment_id=None,
            recurring_issue_id=p.issue_id,
            prevention_id=p.id,
            text=f"Prevent “{label}”: {p.text}",
        )
        for p, label in insights_repository.open_prevention_for_owner(
            session, staff_id, until=until, limit=limit
        )
    ]
    items.sort(key=lambda item: (item.due_at, item.kind))
    return items[:limit]
