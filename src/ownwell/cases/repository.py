"""Every query of the cases domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, joinedload

from ownwell.cases.models import ACTIVE_STATUSES, CadencePolicy, Case, CaseEvent, Visibility
from ownwell.customers.models import Customer
from ownwell.db import short_cache
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.staff.models import Department, Staff, staff_departments


def get(session: Session, case_id: str, *, for_update: bool = False) -> Case:
    case = None
    if looks_like_id("cas", case_id):
        stmt = select(Case).where(Case.id == case_id).options(joinedload(Case.owner))
        if for_update:
            stmt = stmt.with_for_update(of=Case)
        case = session.scalars(stmt).one_or_none()
    if case is None:
        raise NotFound(f"no case with id {case_id!r}")
    return case


def is_member_of_case_departments(session: Session, *, staff_id: str, case: Case) -> bool:
    """Whether this staff member belongs to one of the case's departments: the department it is
    attributed to, if any, and every department of its current owner."""
    mine = staff_departments.alias("mine")
    owners = staff_departments.alias("owners")
    case_departments = or_(
        mine.c.department_id == case.caused_by_department_id,
        mine.c.department_id.in_(select(owners.c.department_id).where(owners.c.staff_id == case.owner_id)),
    )
    stmt = select(mine.c.department_id).where(mine.c.staff_id == staff_id, case_departments).limit(1)
    return session.scalars(stmt).first() is not None


@dataclass(frozen=True)
class CaseFilter:
    owner_id: str | None = None
    status: str | None = None
    customer_id: str | None = None
    caused_by_department_id: str | None = None
    kind: str | None = None
    proactive: bool | None = None
    order_id: str | None = None
    recurring_issue_id: str | None = None


def list_page(session: Session, flt: CaseFilter, *, limit: int, cursor: str | None) -> Sequence[Case]:
    stmt = _filtered(select(Case).options(joinedload(Case.owner)), flt)
    return session.scalars(paginate_desc(stmt, Case.id, limit=limit, cursor=cursor)).all()


def _filtered(stmt: Select[Any], flt: CaseFilter) -> Select[Any]:
    for column, value in (
        (Case.owner_id, flt.owner_id),
        (Case.status, flt.status),
        (Case.customer_id, flt.customer_id),
        (Case.caused_by_department_id, flt.caused_by_department_id),
        (Case.kind, flt.kind),
        (Case.proactive, flt.proactive),
        (Case.order_id, flt.order_id),
        (Case.recurring_issue_id, flt.recurring_issue_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


def timeline(
    session: Session, case_id: str, *, limit: int, cursor: str | None, customer_only: bool = False
) -> Sequence[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id)
    if customer_only:
        stmt = stmt.where(CaseEvent.visibility == Visibility.customer)
    if cursor:
        from ownwell.kit.pagination import decode_cursor

        stmt = stmt.where(CaseEvent.id > decode_cursor(cursor))
    # Oldest first: a timeline reads like the story it is.
    return session.scalars(stmt.order_by(CaseEvent.id).limit(limit + 1)).all()


def recent_customer_events(session: Session, customer_id: str, *, limit: int = 20) -> Sequence[CaseEvent]:
    return session.scalars(
        select(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.customer_id == customer_id)
        .order_by(CaseEvent.id.desc())
        .limit(limit)
    ).all()


def active_for_customer(session: Session, customer_id: str, *, limit: int = 50) -> Sequence[Case]:
    return session.scalars(
        select(Case)
        .options(joinedload(Case.owner))
        .where(Case.customer_id == customer_id, Case.status.in_(ACTIVE_STATUSES))
        .order_by(Case.id.desc())
        .limit(limit)
    ).all()


def owns_active_case_of(session: Session, *, staff_id: str, customer_id: str) -> bool:
    stmt = select(Case.id).where(
        Case.customer_id == customer_id, Case.owner_id == staff_id, Case.status.in_(ACTIVE_STATUSES)
    )
    return session.scalars(stmt.limit(1)).first() is not None


def latest_case_ids_of_customer(session: Session, customer_id: str) -> list[str]:
    """Where a change to the customer's record is written down: every active case of theirs,
    else their most recent case; none for a customer who never had one."""
    active = session.scalars(
        select(Case.id)
        .where(Case.customer_id == customer_id, Case.status.in_(ACTIVE_STATUSES))
        .order_by(Case.id)
    ).all()
    if active:
        return list(active)
    latest = session.scalars(
        select(Case.id).where(Case.customer_id == customer_id).order_by(Case.id.desc()).limit(1)
    ).first()
    return [latest] if latest else []


def cadence_minutes(session: Session, kind: str) -> int | None:
    """Read by every case opened or updated; kept briefly (db.ShortCache), as policies rarely change."""
    cache = short_cache(session)
    cached = cache.get(("cadence", kind))
    if cached is not None:
        return cached[0]
    policy = session.get(CadencePolicy, kind)
    minutes = policy.update_every_minutes if policy else None
    cache.put(("cadence", kind), (minutes,))
    return minutes


def cadence_policies(session: Session) -> Sequence[CadencePolicy]:
    return session.scalars(select(CadencePolicy).order_by(CadencePolicy.kind)).all()


def updates_due(session: Session, owner_id: str, *, until: datetime, limit: int) -> Sequence[Case]:
    return session.scalars(
        select(Case)
        .where(
            Case.owner_id == owner_id,
            Case.status.in_(ACTIVE_STATUSES),
            Case.next_update_due <= until,
        )
        .order_by(Case.next_update_due)
        .limit(limit)
    ).all()


def awaiting_first_response(session: Session, owner_id: str, *, limit: int) -> Sequence[Case]:
    return session.scalars(
        select(Case)
        .where(
            Case.owner_id == owner_id,
            Case.status.in_(ACTIVE_STATUSES),
            Case.first_response_at.is_(None),
        )
        .order_by(Case.created_at)
        .limit(limit)
    ).all()


def updates_due_unreminded(session: Session, *, until: datetime, limit: int) -> Sequence[Case]:
    return session.scalars(
        select(Case)
        .options(joinedload(Case.owner))
        .where(
            Case.status.in_(ACTIVE_STATUSES),
            Case.next_update_due <= until,
            or_(Case.update_reminded_for.is_(None), Case.update_reminded_for != Case.next_update_due),
        )
        .order_by(Case.next_update_due)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Case)
    ).all()


def export_chunk(
    session: Session,
    flt: CaseFilter,
    *,
    before: str | None,
    limit: int,
    statuses: Collection[str] | None = None,
    ids: Collection[str] | None = None,
) -> Sequence[Row[tuple[Case, str, str, str | None, str | None]]]:
    """Up to `limit` cases newest first, older than the case `before`, each with the names a
    reader of an export needs: (case, customer name, owner name, department name, order number).
    `statuses` and `ids` narrow the filter further (the staff search page's "open" and matches)."""
    from ownwell.orders.models import Order

    stmt = (
        select(Case, Customer.name, Staff.name, Department.name, Order.external_id)
        .join(Customer, Customer.id == Case.customer_id)
        .join(Staff, Staff.id == Case.owner_id)
        .outerjoin(Department, Department.id == Case.caused_by_department_id)
        .outerjoin(Order, Order.id == Case.order_id)
    )
    stmt = _filtered(stmt, flt)
    if statuses is not None:
        stmt = stmt.where(Case.status.in_(statuses))
    if ids is not None:
        stmt = stmt.where(Case.id.in_(sorted(ids)))
    if before is not None:
        stmt = stmt.where(Case.id < before)
    return session.execute(stmt.order_by(Case.id.desc()).limit(limit)).all()


def active_cases_owned_by(session: Session, owner_id: str) -> Sequence[Case]:
    """Every case a staff member owns that is not resolved or closed, oldest first, locked."""
    return session.scalars(
        select(Case)
        .options(joinedload(Case.owner))
        .where(Case.owner_id == owner_id, Case.status.in_(ACTIVE_STATUSES))
        .order_by(Case.created_at, Case.id)
        .with_for_update(of=Case)
    ).all()
