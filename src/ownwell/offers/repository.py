"""Every query of the offers domain, including who decides a pending offer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, literal, not_, or_, select
from sqlalchemy.orm import Session, joinedload

from ownwell.cases.models import Case
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import check_limit, decode_cursor
from ownwell.offers import rules
from ownwell.offers.models import Offer, OfferStatus, OfferType
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Role, Staff, staff_departments

MANAGERS = (Role.supervisor, Role.admin)


def _with_people(stmt: Any) -> Any:
    return stmt.options(joinedload(Offer.proposed_by), joinedload(Offer.decided_by))


def get(session: Session, offer_id: str, *, for_update: bool = False) -> Offer:
    offer = None
    if looks_like_id("off", offer_id):
        stmt = _with_people(select(Offer).where(Offer.id == offer_id))
        if for_update:
            # Two supervisors deciding at once: the second waits, then sees it decided (the row
            # is read afresh even if this session had loaded it before the lock).
            stmt = stmt.with_for_update(of=Offer).execution_options(populate_existing=True)
        offer = session.scalars(stmt).unique().one_or_none()
    if offer is None:
        raise NotFound(f"no offer with id {offer_id!r}")
    return offer


def for_case(session: Session, case_id: str) -> Sequence[Offer]:
    stmt = _with_people(select(Offer).where(Offer.case_id == case_id).order_by(Offer.id))
    return session.scalars(stmt).unique().all()


def counted_amounts(
    session: Session, *, case_id: str, offer_type: OfferType
) -> Sequence[tuple[Decimal, str]]:
    """(amount, currency) of the offers of this type on the case that count against an
    authority limit: approved and pending ones (a rejected offer gives nothing)."""
    stmt = select(Offer.amount, Offer.currency).where(
        Offer.case_id == case_id,
        Offer.type == offer_type,
        Offer.status.in_((OfferStatus.approved, OfferStatus.pending_approval)),
    )
    return [(amount, currency) for amount, currency in session.execute(stmt).all()]


def department_ids_of(session: Session, staff_id: str) -> list[str]:
    return list(
        session.scalars(
            select(staff_departments.c.department_id).where(staff_departments.c.staff_id == staff_id)
        ).all()
    )


def deciding_department_ids(session: Session, case: Case) -> list[str]:
    """The departments that answer for the case when an offer is made on it: the one it is
    attributed to, else the owner's own departments ("you break, you buy" decides who pays to
    make it right). The offer keeps them (Offer.deciding_department_ids)."""
    if case.caused_by_department_id is not None:
        return [case.caused_by_department_id]
    return department_ids_of(session, case.owner_id)


def offer_department_ids(offer: Offer) -> list[str]:
    """Whose supervisors decide this offer: fixed when it was made."""
    return rules.unpack_departments(offer.deciding_department_ids)


def admins(session: Session) -> Sequence[Staff]:
    return session.scalars(select(Staff).where(Staff.role == Role.admin).order_by(Staff.id)).all()


def deciders(session: Session, *, offer: Offer) -> list[Staff]:
    """Who is waited on: supervisors of the deciding department, else (none there) the admins.
    Never the proposer."""
    department_ids = offer_department_ids(offer)
    people = staff_repository.supervisors_of(session, department_ids) if department_ids else []
    chosen = [s for s in people if s.id != offer.proposed_by_id]
    if not chosen:
        chosen = [s for s in admins(session) if s.id != offer.proposed_by_id]
    return chosen


def _offer_in_departments(department_ids: Sequence[str]) -> Any:
    """SQL twin of `offer_department_ids(offer) ∩ department_ids` being non-empty."""
    return or_(*[Offer.deciding_department_ids.contains(f",{d},", autoescape=True) for d in department_ids])


def _has_department_decider() -> Any:
    """SQL twin of `deciders` finding someone in the deciding department. (The `_` of a
    department id is a LIKE wildcard here; it only ever stands where every id has its `_`.)"""
    member = staff_departments.alias("member")
    return exists(
        select(Staff.id)
        .join(member, member.c.staff_id == Staff.id)
        .where(
            Staff.role.in_(MANAGERS),
            Staff.id != Offer.proposed_by_id,
            Offer.deciding_department_ids.contains(literal(",") + member.c.department_id + literal(",")),
        )
    )


def _pending_not_mine(actor: Staff) -> Any:
    return _with_people(
        select(Offer)
        .join(Case, Case.id == Offer.case_id)
        .where(Offer.status == OfferStatus.pending_approval, Offer.proposed_by_id != actor.id)
    )


def decidable(session: Session, *, actor: Staff, limit: int, cursor: str | None) -> Sequence[Offer]:
    """The approvals queue, oldest first: every pending offer the actor may decide."""
    if actor.role not in MANAGERS:
        return []
    stmt = _pending_not_mine(actor)
    if actor.role != Role.admin:
        mine = department_ids_of(session, actor.id)
        if not mine:
            return []
        stmt = stmt.where(_offer_in_departments(mine))
    if cursor:
        stmt = stmt.where(Offer.id > decode_cursor(cursor))
    return session.scalars(stmt.order_by(Offer.id).limit(check_limit(limit) + 1)).unique().all()


def awaiting(session: Session, *, actor: Staff, limit: int) -> Sequence[Offer]:
    """Pending offers waiting on this person (the agenda): their departments' offers, and for
    an admin also those with no supervisor in the deciding department to wait on."""
    if actor.role not in MANAGERS:
        return []
    mine = department_ids_of(session, actor.id)
    conditions = [_offer_in_departments(mine)] if mine else []
    if actor.role == Role.admin:
        conditions.append(not_(_has_department_decider()))
    if not conditions:
        return []
    stmt = _pending_not_mine(actor).where(or_(*conditions))
    return session.scalars(stmt.order_by(Offer.approval_due_at, Offer.id).limit(limit)).unique().all()


def overdue_unreminded(session: Session, *, now: datetime, limit: int) -> Sequence[Offer]:
    """Approvals waiting past their due time with no reminder yet, claimed so that concurrent
    workers take different rows."""
    return session.scalars(
        select(Offer)
        .where(
            Offer.status == OfferStatus.pending_approval,
            Offer.approval_due_at <= now,
            Offer.approval_reminded_at.is_(None),
        )
        .order_by(Offer.approval_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
