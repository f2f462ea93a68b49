"""Assembles a person's agenda from the domains that owe things."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.agenda.schemas import AgendaItem, AgendaKind
from ownwell.cases import repository as case_repository
from ownwell.commitments import repository as commitment_repository


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
    items.sort(key=lambda item: (item.due_at, item.kind))
    return items[:limit]
