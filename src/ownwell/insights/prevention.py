"""Prevention actions after they are named (P10, issue #6): the owner marks one done, and the
worker reminds the owner before it is due and escalates it once when it is overdue. Like
service.py, every change writes its timeline event and outbox rows in the caller's
transaction; these functions flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.cases import timeline
from ownwell.cases.models import Visibility
from ownwell.config import Settings
from ownwell.errors import Conflict
from ownwell.insights import repository
from ownwell.insights.models import PreventionAction, PreventionStatus, RecurringIssue
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.notifications.render import local_time
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Role, Staff


def issue_url(settings: Settings, issue_id: str) -> str:
    return f"{settings.base_url}/insights/recurring/{issue_id}"


def _audit(
    session: Session,
    *,
    issue: RecurringIssue,
    kind: str,
    text: str,
    data: dict,
    staff: Staff | None,
    now: datetime,
) -> None:
    # As with the root cause: the issue's newest case carries the entry, where its owner looks.
    newest = repository.recent_case_ids(session, [issue.id], 1)[issue.id]
    if newest:
        timeline.record(
            session,
            case_id=newest[0],
            kind=kind,
            at=now,
            visibility=Visibility.internal,
            staff=staff,
            text=text,
            data={"issue_id": issue.id, **data},
        )


def complete(
    session: Session, *, action: PreventionAction, actor: Staff, now: datetime, settings: Settings
) -> PreventionAction:
    """Mark the action done; whoever named it hears of it when someone else closed it."""
    if action.status == PreventionStatus.done:
        raise Conflict("this prevention action is already done", code="already_done")
    action.status, action.done_at = PreventionStatus.done, now
    issue = repository.get(session, action.issue_id)
    issue.updated_at = now
    _audit(
        session,
        issue=issue,
        kind="prevention_done",
        text=f"Prevention action done: {action.text}",
        data={"prevention_id": action.id, "by": timeline.person(actor)},
        staff=actor,
        now=now,
    )
    if action.created_by_id is not None and action.created_by_id != actor.id:
        creator = session.get(Staff, action.created_by_id)
        if creator is not None:
            enqueue_to_staff(
                session,
                staff_id=creator.id,
                email=creator.email,
                key=f"insights-prevention-done:{action.id}",
                kind="prevention_done",
                subject=f"Prevention action done for “{issue.label}”",
                body=(
                    f"{actor.name} marked the prevention action you named done:\n\n"
                    f"    {action.text}\n\n{issue_url(settings, issue.id)}"
                ),
                now=now,
                settings=settings,
            )
    session.flush()
    return action


def escalation_recipients(session: Session, department_id: str | None) -> Sequence[Staff]:
    """A supervisor of the issue's department; with none (or no department), the admins."""
    if department_id is not None:
        found = [
            s for s in staff_repository.supervisors_of(session, [department_id]) if s.role == Role.supervisor
        ]
        if found:
            return found
    return session.scalars(select(Staff).where(Staff.role == Role.admin).order_by(Staff.id)).all()


def remind(session: Session, *, action: PreventionAction, now: datetime, settings: Settings) -> None:
    owner = staff_repository.get_staff(session, action.owner_id)
    issue = repository.get(session, action.issue_id)
    due = local_time(action.due_at, settings.timezone)
    enqueue_to_staff(
        session,
        staff_id=owner.id,
        email=owner.email,
        key=f"insights-prevention-due-soon:{action.id}",
        kind="prevention_reminder",
        subject=f"Due {due}: {action.text}",
        body=(
            f"{owner.name}, you own this prevention action for the recurring issue “{issue.label}”:\n\n"
            f"    {action.text}\n\nIt is due {due}. Mark it done once it is in place.\n\n"
            f"{issue_url(settings, issue.id)}"
        ),
        now=now,
        settings=settings,
    )
    action.reminded_at = now


def escalate(session: Session, *, action: PreventionAction, now: datetime, settings: Settings) -> None:
    owner = staff_repository.get_staff(session, action.owner_id)
    issue = repository.get(session, action.issue_id)
    due = local_time(action.due_at, settings.timezone)
    others = [s for s in escalation_recipients(session, issue.department_id) if s.id != owner.id]
    for person in [owner, *others]:
        ask = (
            "Please put it in place, or agree a new date with your supervisor."
            if person.id == owner.id
            else f"{owner.name} owns it: please follow up."
        )
        enqueue_to_staff(
            session,
            staff_id=person.id,
            email=person.email,
            key=f"insights-prevention-overdue:{action.id}:{person.id}",
            kind="prevention_escalation",
            subject=f"Prevention action overdue: {action.text}",
            body=(
                f"The prevention action for the recurring issue “{issue.label}” was due {due} "
                f"and is not done:\n\n    {action.text}\n\n{ask}\n\n{issue_url(settings, issue.id)}"
            ),
            now=now,
            settings=settings,
        )
    action.escalated_at = now
    _audit(
        session,
        issue=issue,
        kind="prevention_overdue",
        text=f"Prevention action overdue, escalated: {action.text}",
        data={"prevention_id": action.id, "told": [p.id for p in [owner, *others]]},
        staff=None,
        now=now,
    )
