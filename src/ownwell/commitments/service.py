"""The only writers of commitments (P4: every promise is kept, renegotiated or broken)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import timeline
from ownwell.cases.models import Case, Visibility
from ownwell.commitments.models import (
    PENDING_STATUSES,
    Commitment,
    CommitmentRenegotiation,
    CommitmentStatus,
)
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.notifications.render import local_time
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff


def _future(due_at: datetime, now: datetime) -> datetime:
    if due_at <= now:
        raise InvalidInput("a promise must be due in the future", field="due_at")
    return due_at


def make_commitment(
    session: Session,
    *,
    case: Case,
    text: str,
    due_at: datetime,
    owner_id: str | None,
    actor: Staff,
    now: datetime,
    zone: str,
) -> Commitment:
    owner = case.owner
    if owner_id is not None and owner_id != case.owner_id:
        try:
            owner = staff_repository.get_staff(session, owner_id)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="owner_id") from exc
        if not owner.active:
            raise InvalidInput(f"{owner.name} is deactivated and cannot make promises", field="owner_id")
    commitment = Commitment(
        id=new_id("com"),
        case_id=case.id,
        owner_id=owner.id,
        text=text.strip(),
        due_at=_future(due_at, now),
        status=CommitmentStatus.open,
        created_at=now,
    )
    session.add(commitment)
    timeline.record(
        session,
        case_id=case.id,
        kind="commitment_made",
        at=now,
        visibility=Visibility.customer,
        text=f"{owner.name} promised: {commitment.text} (by {local_time(commitment.due_at, zone)})",
        staff=actor,
        data={
            "commitment_id": commitment.id,
            "due_at": commitment.due_at.isoformat(),
            "owner": timeline.person(owner),
        },
    )
    session.flush()
    return commitment


def _require_pending(commitment: Commitment, *, allow_broken: bool = False) -> None:
    allowed = (*PENDING_STATUSES, CommitmentStatus.broken) if allow_broken else PENDING_STATUSES
    if commitment.status not in allowed:
        raise Conflict(f"this commitment is already {commitment.status}", code="invalid_transition")


def keep(session: Session, *, commitment: Commitment, actor: Staff, now: datetime) -> Commitment:
    _require_pending(commitment)
    commitment.status = CommitmentStatus.kept
    commitment.closed_at = now
    timeline.record(
        session,
        case_id=commitment.case_id,
        kind="commitment_kept",
        at=now,
        visibility=Visibility.customer,
        text=f"Promise kept: {commitment.text}",
        staff=actor,
        data={"commitment_id": commitment.id, "on_time": now <= commitment.due_at},
    )
    session.flush()
    return commitment


def renegotiate(
    session: Session,
    *,
    commitment: Commitment,
    due_at: datetime,
    note: str,
    actor: Staff,
    now: datetime,
    zone: str,
) -> Commitment:
    """A promise that cannot be kept is moved openly, with the reason, before it breaks."""
    _require_pending(commitment, allow_broken=True)
    new_due = _future(due_at, now)
    old_due = commitment.due_at
    session.add(
        CommitmentRenegotiation(
            id=new_id("ren"),
            commitment_id=commitment.id,
            old_due_at=old_due,
            new_due_at=new_due,
            note=note.strip(),
            actor_staff_id=actor.id,
            at=now,
        )
    )
    commitment.status = CommitmentStatus.renegotiated
    commitment.due_at = new_due
    commitment.closed_at = None
    timeline.record(
        session,
        case_id=commitment.case_id,
        kind="commitment_renegotiated",
        at=now,
        visibility=Visibility.customer,
        text=f'New date for "{commitment.text}": {local_time(new_due, zone)}. {note.strip()}',
        staff=actor,
        data={
            "commitment_id": commitment.id,
            "old": old_due.isoformat(),
            "new": new_due.isoformat(),
        },
    )
    session.flush()
    return commitment


def mark_broken(session: Session, *, commitment: Commitment, now: datetime) -> Commitment:
    """The clock passed the due time with the promise neither kept nor renegotiated."""
    if commitment.status not in PENDING_STATUSES or commitment.due_at >= now:
        return commitment
    commitment.status = CommitmentStatus.broken
    commitment.closed_at = now
    timeline.record(
        session,
        case_id=commitment.case_id,
        kind="commitment_broken",
        at=now,
        visibility=Visibility.internal,
        text=f"Promise broken: {commitment.text} was due {commitment.due_at.isoformat()}",
        data={"commitment_id": commitment.id, "due_at": commitment.due_at.isoformat()},
    )
    session.flush()
    return commitment


def hand_on(session: Session, *, commitment: Commitment, to: Staff, reason: str, now: datetime) -> Commitment:
    """A pending promise changes hands (its owner left): the new owner keeps it, same due time."""
    _require_pending(commitment)
    old_owner_id = commitment.owner_id
    if to.id == old_owner_id:
        return commitment
    commitment.owner_id = to.id
    timeline.record(
        session,
        case_id=commitment.case_id,
        kind="commitment_handed_on",
        at=now,
        visibility=Visibility.internal,
        text=f"{to.name} keeps the promise now: {commitment.text}. {reason}",
        data={"commitment_id": commitment.id, "from": old_owner_id, "to": timeline.person(to)},
    )
    session.flush()
    return commitment
