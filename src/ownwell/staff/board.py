"""Queries of the department board: per department, what it owes because it caused it (P2).
Counts are aggregated in SQL per department in one statement each, so the board costs the same
few queries however many departments and cases there are."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ownwell.cases.models import ACTIVE_STATUSES, Case
from ownwell.commitments.models import PENDING_STATUSES, Commitment, CommitmentStatus
from ownwell.customers.models import Customer
from ownwell.staff.models import Staff, staff_departments

LIST_LIMIT = 50


def open_caused_counts(session: Session) -> dict[str, tuple[int, int]]:
    """department id -> (open cases it caused, of which proactive)."""
    rows = session.execute(
        select(
            Case.caused_by_department_id,
            func.count(),
            func.count().filter(Case.proactive.is_(True)),
        )
        .where(Case.caused_by_department_id.is_not(None), Case.status.in_(ACTIVE_STATUSES))
        .group_by(Case.caused_by_department_id)
    ).all()
    return {d: (int(total), int(proactive)) for d, total, proactive in rows}


def _overdue_ids(now: datetime) -> Any:
    """Promises we did not keep: still owed past their due time, or marked broken while the case
    is still open (a broken promise on a closed case has been dealt with). Two index range scans
    (status, due_at) joined by UNION ALL (the statuses differ), not one OR over the table."""
    late = select(Commitment.id).where(Commitment.status.in_(PENDING_STATUSES), Commitment.due_at < now)
    broken = (
        select(Commitment.id)
        .join(Case, Case.id == Commitment.case_id)
        .where(Commitment.status == CommitmentStatus.broken, Case.status.in_(ACTIVE_STATUSES))
    )
    return late.union_all(broken).subquery()


def _owned_in(department_id: Any) -> Any:
    return exists().where(
        staff_departments.c.staff_id == Case.owner_id, staff_departments.c.department_id == department_id
    )


def overdue_promise_counts(session: Session, *, now: datetime) -> dict[str, int]:
    """department id -> overdue promises of cases it caused or whose owner works in it (a case
    caused by Shipping and owned by a Billing person counts for both, and once for each)."""
    overdue = _overdue_ids(now)
    found = (
        select(Case.caused_by_department_id.label("department_id"), Commitment.id.label("commitment_id"))
        .select_from(overdue)
        .join(Commitment, Commitment.id == overdue.c.id)
        .join(Case, Case.id == Commitment.case_id)
    )
    caused = found.where(Case.caused_by_department_id.is_not(None))
    owned = found.with_only_columns(
        staff_departments.c.department_id.label("department_id"), Commitment.id.label("commitment_id")
    ).join(staff_departments, staff_departments.c.staff_id == Case.owner_id)
    both = caused.union(owned).subquery()  # UNION, not UNION ALL: a promise counts once per department
    rows = session.execute(select(both.c.department_id, func.count()).group_by(both.c.department_id)).all()
    return {d: int(n) for d, n in rows}


def open_caused_cases(
    session: Session, department_id: str, *, proactive: bool | None = None, limit: int = LIST_LIMIT
) -> Sequence[Any]:
    """(case, customer name, owner name) of the department's open caused cases, the next update
    due first (the ones about to keep a customer waiting)."""
    stmt = (
        select(Case, Customer.name.label("customer_name"), Staff.name.label("owner_name"))
        .join(Customer, Customer.id == Case.customer_id)
        .join(Staff, Staff.id == Case.owner_id)
        .where(Case.caused_by_department_id == department_id, Case.status.in_(ACTIVE_STATUSES))
        .order_by(Case.next_update_due, Case.id)
        .limit(limit)
    )
    if proactive is not None:
        stmt = stmt.where(Case.proactive.is_(proactive))
    return session.execute(stmt).all()


def overdue_promises(
    session: Session, department_id: str, *, now: datetime, limit: int = LIST_LIMIT
) -> Sequence[Any]:
    """(commitment, case subject, owner name) overdue in the department, longest overdue first.
    One query per status, each walking the (status, due_at) index in due order and stopping at
    `limit` matches (with two statuses in one query PostgreSQL scans and sorts them all)."""
    ours = or_(Case.caused_by_department_id == department_id, _owned_in(department_id))
    base = (
        select(Commitment, Case.subject.label("subject"), Staff.name.label("owner_name"))
        .join(Case, Case.id == Commitment.case_id)
        .join(Staff, Staff.id == Commitment.owner_id)
        .where(ours)
        .order_by(Commitment.due_at, Commitment.id)
        .limit(limit)
    )
    rows = []
    for status in PENDING_STATUSES:
        rows += session.execute(base.where(Commitment.status == status, Commitment.due_at < now)).all()
    rows += session.execute(
        base.where(Commitment.status == CommitmentStatus.broken, Case.status.in_(ACTIVE_STATUSES))
    ).all()
    return sorted(rows, key=lambda row: (row[0].due_at, row[0].id))[:limit]
