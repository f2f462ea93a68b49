"""Every query of the insights domain."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ownwell.cases.models import Case, CaseEvent
from ownwell.errors import NotFound
from ownwell.insights.models import CaseVector, PreventionAction, PreventionStatus, RecurringIssue
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.staff.models import Role, Staff, staff_departments


@dataclass(frozen=True)
class Pending:
    case_id: str
    subject: str
    body: str
    created_at: datetime
    department_id: str | None


def get(
    session: Session, issue_id: str, *, for_update: bool = False, field: str | None = None
) -> RecurringIssue:
    issue = None
    if looks_like_id("rci", issue_id):
        stmt = select(RecurringIssue).where(RecurringIssue.id == issue_id)
        if for_update:
            stmt = stmt.with_for_update()
        issue = session.scalars(stmt).one_or_none()
    if issue is None:
        raise NotFound(f"no recurring issue with id {issue_id!r}", field=field)
    return issue


def unassigned_cases(
    session: Session, *, limit: int, skip: Collection[str] = (), lock: bool = True
) -> list[Pending]:
    """The oldest cases not matched yet, with the customer's first words, leaving out `skip`.
    With `lock`, claimed with SKIP LOCKED so several workers on PostgreSQL take different cases;
    without, the caller claims them later with `claim_unassigned`."""
    stmt = select(Case.id).where(Case.recurring_issue_id.is_(None))
    if skip:
        stmt = stmt.where(Case.id.not_in(list(skip)))
    stmt = stmt.order_by(Case.created_at, Case.id).limit(limit)
    claimed = session.scalars(stmt.with_for_update(skip_locked=True) if lock else stmt).all()
    if not claimed:
        return []
    rows = session.execute(
        select(Case.id, Case.subject, Case.created_at, Case.caused_by_department_id, CaseEvent.text)
        .outerjoin(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.kind == "case_created"))
        .where(Case.id.in_(claimed))
        .order_by(Case.created_at, Case.id)
    ).all()
    seen: set[str] = set()
    out = []
    for case_id, subject, created_at, department_id, body in rows:
        if case_id in seen:
            continue
        seen.add(case_id)
        out.append(Pending(case_id, subject or "", body or "", created_at, department_id))
    return out


def claim_unassigned(session: Session, case_ids: Sequence[str]) -> set[str]:
    """Those of `case_ids` still without a recurring issue, locked for this transaction (SKIP
    LOCKED: a case another worker is assigning right now is left to it)."""
    if not case_ids:
        return set()
    return set(
        session.scalars(
            select(Case.id)
            .where(Case.id.in_(list(case_ids)), Case.recurring_issue_id.is_(None))
            .with_for_update(skip_locked=True)
        )
    )


def set_issue_of_cases(session: Session, pairs: Sequence[tuple[str, str]]) -> None:
    """cases.recurring_issue_id for many cases in one executemany UPDATE."""
    if not pairs:
        return
    table = Case.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("case_key"))
        .values(recurring_issue_id=bindparam("issue_key"))
    )
    session.connection().execute(stmt, [{"case_key": c, "issue_key": i} for c, i in pairs])


def live_sums(session: Session) -> list[tuple[str, bytes]]:
    """Every live issue's vector sum, without building ORM objects: the matcher reads them all
    on every batch, and only a few of them change."""
    rows = session.execute(
        select(RecurringIssue.id, RecurringIssue.vector_sum)
        .where(RecurringIssue.merged_into_id.is_(None))
        .order_by(RecurringIssue.id)
    ).all()
    return [(issue_id, bytes(data)) for issue_id, data in rows]


def issues_by_id(session: Session, issue_ids: Sequence[str]) -> dict[str, RecurringIssue]:
    if not issue_ids:
        return {}
    stmt = select(RecurringIssue).where(RecurringIssue.id.in_(issue_ids))
    return {i.id: i for i in session.scalars(stmt).all()}


def live_issues(session: Session) -> Sequence[RecurringIssue]:
    """Every issue a new case may join (merged ones have handed their cases on)."""
    return session.scalars(
        select(RecurringIssue).where(RecurringIssue.merged_into_id.is_(None)).order_by(RecurringIssue.id)
    ).all()


def cases_since(session: Session, issue_id: str, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CaseVector)
            .where(CaseVector.issue_id == issue_id, CaseVector.case_created_at >= since)
        )
        or 0
    )


def vectors_of(session: Session, issue_id: str) -> Sequence[CaseVector]:
    return session.scalars(
        select(CaseVector).where(CaseVector.issue_id == issue_id).order_by(CaseVector.case_created_at)
    ).all()


def all_vectors(session: Session) -> Sequence[CaseVector]:
    return session.scalars(select(CaseVector).order_by(CaseVector.case_created_at, CaseVector.case_id)).all()


def vectors_for_cases(session: Session, case_ids: Sequence[str]) -> Sequence[CaseVector]:
    return session.scalars(select(CaseVector).where(CaseVector.case_id.in_(case_ids))).all()


def cases_by_id(session: Session, case_ids: Sequence[str]) -> dict[str, Case]:
    if not case_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Case).where(Case.id.in_(case_ids))).all()}


def subjects(session: Session, case_ids: Sequence[str]) -> dict[str, str]:
    if not case_ids:
        return {}
    return dict(session.execute(select(Case.id, Case.subject).where(Case.id.in_(case_ids))).all())  # type: ignore[arg-type]


def list_page(
    session: Session, *, since: datetime | None, limit: int, cursor: str | None
) -> Sequence[RecurringIssue]:
    stmt = select(RecurringIssue).where(RecurringIssue.merged_into_id.is_(None))
    if since is not None:
        stmt = stmt.where(RecurringIssue.last_seen >= since)
    return session.scalars(paginate_desc(stmt, RecurringIssue.id, limit=limit, cursor=cursor)).all()


def recent_case_ids(session: Session, issue_ids: Sequence[str], per_issue: int) -> dict[str, list[str]]:
    """The newest few cases of each issue, for examples."""
    out: dict[str, list[str]] = {i: [] for i in issue_ids}
    if not issue_ids:
        return out
    ranked = (
        select(
            CaseVector.issue_id,
            CaseVector.case_id,
            func.row_number()
            .over(
                partition_by=CaseVector.issue_id,
                order_by=(CaseVector.case_created_at.desc(), CaseVector.case_id.desc()),
            )
            .label("n"),
        )
        .where(CaseVector.issue_id.in_(issue_ids))
        .subquery()
    )
    for issue_id, case_id in session.execute(
        select(ranked.c.issue_id, ranked.c.case_id).where(ranked.c.n <= per_issue).order_by(ranked.c.n)
    ):
        out[issue_id].append(case_id)
    return out


def arrivals_since(
    session: Session, issue_ids: Sequence[str], since: datetime
) -> Sequence[tuple[str, datetime]]:
    if not issue_ids:
        return []
    return session.execute(  # type: ignore[return-value]
        select(CaseVector.issue_id, CaseVector.case_created_at).where(
            CaseVector.issue_id.in_(issue_ids), CaseVector.case_created_at >= since
        )
    ).all()


def departments_involved(session: Session, issue_id: str) -> list[tuple[str | None, int]]:
    rows = session.execute(
        select(Case.caused_by_department_id, func.count())
        .join(CaseVector, CaseVector.case_id == Case.id)
        .where(CaseVector.issue_id == issue_id)
        .group_by(Case.caused_by_department_id)
        .order_by(func.count().desc())
    ).all()
    return [(d, int(n)) for d, n in rows]


def prevention_actions(session: Session, issue_id: str) -> Sequence[PreventionAction]:
    return session.scalars(
        select(PreventionAction).where(PreventionAction.issue_id == issue_id).order_by(PreventionAction.id)
    ).all()


def alert_recipients(session: Session, department_id: str | None) -> Sequence[Staff]:
    """Who hears of a spike: the department's supervisors, else its members; with no department,
    every supervisor and admin."""
    if department_id is not None:
        members = (
            select(Staff)
            .join(staff_departments, staff_departments.c.staff_id == Staff.id)
            .where(staff_departments.c.department_id == department_id)
        )
        managers = session.scalars(
            members.where(Staff.role.in_((Role.supervisor, Role.admin))).order_by(Staff.id)
        ).all()
        return managers or session.scalars(members.order_by(Staff.id)).all()
    return session.scalars(
        select(Staff).where(Staff.role.in_((Role.supervisor, Role.admin))).order_by(Staff.id)
    ).all()


def get_prevention(session: Session, prevention_id: str, *, for_update: bool = False) -> PreventionAction:
    action = None
    if looks_like_id("prv", prevention_id):
        stmt = select(PreventionAction).where(PreventionAction.id == prevention_id)
        if for_update:
            stmt = stmt.with_for_update()
        action = session.scalars(stmt).one_or_none()
    if action is None:
        raise NotFound(f"no prevention action with id {prevention_id!r}")
    return action


def open_prevention_for_owner(
    session: Session, owner_id: str, *, until: datetime, limit: int
) -> Sequence[tuple[PreventionAction, str]]:
    """The owner's open actions due by `until` (overdue included), with their issue's label."""
    rows = session.execute(
        select(PreventionAction, RecurringIssue.label)
        .join(RecurringIssue, RecurringIssue.id == PreventionAction.issue_id)
        .where(
            PreventionAction.owner_id == owner_id,
            PreventionAction.status == PreventionStatus.open,
            PreventionAction.due_at <= until,
        )
        .order_by(PreventionAction.due_at, PreventionAction.id)
        .limit(limit)
    ).all()
    return [(action, label) for action, label in rows]


def prevention_due_soon_unreminded(
    session: Session, *, now: datetime, until: datetime, limit: int
) -> Sequence[PreventionAction]:
    """Claimed so that concurrent workers take different rows."""
    return session.scalars(
        select(PreventionAction)
        .where(
            PreventionAction.status == PreventionStatus.open,
            PreventionAction.reminded_at.is_(None),
            PreventionAction.due_at >= now,
            PreventionAction.due_at <= until,
        )
        .order_by(PreventionAction.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def prevention_overdue_unescalated(
    session: Session, *, now: datetime, limit: int
) -> Sequence[PreventionAction]:
    return session.scalars(
        select(PreventionAction)
        .where(
            PreventionAction.status == PreventionStatus.open,
            PreventionAction.escalated_at.is_(None),
            PreventionAction.due_at < now,
        )
        .order_by(PreventionAction.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
