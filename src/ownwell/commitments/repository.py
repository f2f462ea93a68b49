"""Every query of the commitments domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ownwell.commitments.models import PENDING_STATUSES, Commitment, CommitmentRenegotiation
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id


def get(session: Session, commitment_id: str, *, for_update: bool = False) -> Commitment:
    commitment = None
    if looks_like_id("com", commitment_id):
        stmt = select(Commitment).where(Commitment.id == commitment_id)
        if for_update:
            stmt = stmt.with_for_update()
        commitment = session.scalars(stmt).one_or_none()
    if commitment is None:
        raise NotFound(f"no commitment with id {commitment_id!r}")
    return commitment


def for_case(session: Session, case_id: str) -> Sequence[Commitment]:
    return session.scalars(
        select(Commitment).where(Commitment.case_id == case_id).order_by(Commitment.due_at, Commitment.id)
    ).all()


def renegotiations(session: Session, commitment_ids: Sequence[str]) -> Sequence[CommitmentRenegotiation]:
    if not commitment_ids:
        return []
    return session.scalars(
        select(CommitmentRenegotiation)
        .where(CommitmentRenegotiation.commitment_id.in_(commitment_ids))
        .order_by(CommitmentRenegotiation.at, CommitmentRenegotiation.id)
    ).all()


def pending_for_owner(
    session: Session, owner_id: str, *, until: datetime, limit: int
) -> Sequence[Commitment]:
    return session.scalars(
        select(Commitment)
        .where(
            Commitment.owner_id == owner_id,
            Commitment.status.in_(PENDING_STATUSES),
            Commitment.due_at <= until,
        )
        .order_by(Commitment.due_at)
        .limit(limit)
    ).all()


def overdue(session: Session, *, now: datetime, limit: int) -> Sequence[Commitment]:
    """Pending commitments past due, claimed so that concurrent workers take different rows."""
    return session.scalars(
        select(Commitment)
        .where(Commitment.status.in_(PENDING_STATUSES), Commitment.due_at < now)
        .order_by(Commitment.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def due_soon_unreminded(
    session: Session, *, now: datetime, until: datetime, limit: int
) -> Sequence[Commitment]:
    return session.scalars(
        select(Commitment)
        .where(
            Commitment.status.in_(PENDING_STATUSES),
            Commitment.due_at >= now,
            Commitment.due_at <= until,
            or_(Commitment.reminded_for.is_(None), Commitment.reminded_for != Commitment.due_at),
        )
        .order_by(Commitment.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def all_pending_for_owner(session: Session, owner_id: str) -> Sequence[Commitment]:
    """Every promise a staff member still owes, whenever due, locked (they are being handed on)."""
    return session.scalars(
        select(Commitment)
        .where(Commitment.owner_id == owner_id, Commitment.status.in_(PENDING_STATUSES))
        .order_by(Commitment.due_at, Commitment.id)
        .with_for_update()
    ).all()
