"""Timer sweeps of the commitments domain (P4): remind before due, escalate when broken."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.commitments import repository, service
from ownwell.commitments.models import Commitment
from ownwell.config import Settings
from ownwell.db import database_unavailable
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.notifications.render import local_time
from ownwell.staff import repository as staff_repository

log = logging.getLogger(__name__)


def _case_url(settings: Settings, case_id: str) -> str:
    return f"{settings.base_url}/app/cases/{case_id}"


def remind_due_soon(session: Session, *, now: datetime, settings: Settings, batch: int = 500) -> int:
    """Tell each owner about promises due within the lead time, once per due time."""
    count = 0
    horizon = now + timedelta(minutes=settings.reminder_lead_minutes)
    for commitment in repository.due_soon_unreminded(session, now=now, until=horizon, limit=batch):
        try:
            with session.begin_nested():
                owner = staff_repository.get_staff(session, commitment.owner_id)
                case = case_repository.get(session, commitment.case_id)
                enqueue_to_staff(
                    session,
                    staff_id=owner.id,
                    email=owner.email,
                    key=f"commitment-due-soon:{commitment.id}:{commitment.due_at.isoformat()}",
                    kind="commitment_reminder",
                    subject=f"Due {local_time(commitment.due_at, settings.timezone)}: {commitment.text}",
                    body=(
                        f"{owner.name}, you promised {case.subject!r}'s customer: {commitment.text}\n"
                        f"It is due {local_time(commitment.due_at, settings.timezone)}. Keep it, or "
                        f"renegotiate it with the customer before then.\n\n{_case_url(settings, case.id)}"
                    ),
                    now=now,
                    settings=settings,
                    case_id=case.id,
                )
                commitment.reminded_for = commitment.due_at
            count += 1
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the boundary says so in one line; every other row would fail too
            log.exception("could not remind about commitment %s; skipped", commitment.id)
    return count


def _escalate(session: Session, commitment: Commitment, *, now: datetime, settings: Settings) -> None:
    owner = staff_repository.get_staff(session, commitment.owner_id)
    case = case_repository.get(session, commitment.case_id)
    due = local_time(commitment.due_at, settings.timezone)
    supervisors = staff_repository.supervisors_of(session, [d.id for d in owner.departments])
    for person in [owner, *[s for s in supervisors if s.id != owner.id]]:
        ask = (
            "Please make it right with the customer today."
            if person.id == owner.id
            else "You supervise the owner: please step in."
        )
        enqueue_to_staff(
            session,
            staff_id=person.id,
            email=person.email,
            key=f"commitment-broken:{commitment.id}:{commitment.due_at.isoformat()}:{person.id}",
            kind="commitment_escalation",
            subject=f"Promise broken: {commitment.text}",
            body=(
                f"{owner.name} promised {case.subject!r}'s customer: {commitment.text}, due {due}. "
                f"It was neither kept nor renegotiated.\n"
                f"{ask}"
                f"\n\n{_case_url(settings, case.id)}"
            ),
            now=now,
            settings=settings,
            case_id=case.id,
        )
    commitment.escalated_at = now


def sweep_broken(
    session: Session, *, now: datetime, settings: Settings | None = None, batch: int = 500
) -> int:
    """Mark every overdue pending commitment broken and escalate it to the owner's supervisors.
    Running it twice changes nothing."""
    count = 0
    for commitment in repository.overdue(session, now=now, limit=batch):
        try:
            with session.begin_nested():
                service.mark_broken(session, commitment=commitment, now=now)
                if settings is not None:
                    _escalate(session, commitment, now=now, settings=settings)
            count += 1
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the boundary says so in one line; every other row would fail too
            log.exception("could not mark commitment %s broken; skipped", commitment.id)
    return count
