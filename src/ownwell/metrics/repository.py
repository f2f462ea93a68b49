"""Every query of the metrics domain. Counts and means are aggregated in SQL; rows that feed a
percentile or a sequence rule are read bounded by the period. Plain SQL expressions only, so
the same statements run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from ownwell.cases.models import ACTIVE_STATUSES, Case, CaseEvent
from ownwell.commitments.models import Commitment, CommitmentRenegotiation, CommitmentStatus
from ownwell.customers.models import Customer
from ownwell.feedback.models import Feedback, FollowUp
from ownwell.incidents.models import IncidentUpdate
from ownwell.metrics import rules
from ownwell.orders.models import Order
from ownwell.staff.models import Department, staff_departments

# Customer-visible events that carried a message from us to the customer.
OUTBOUND_KINDS = ("case_created", "message_out", "order_problem", "order_delivered", "resolved", "reopened")


@dataclass(frozen=True)
class Period:
    since: datetime
    end: datetime  # min(until, now): nothing after now is known yet
    department_id: str | None


def _scoped(stmt: Select[Any], period: Period) -> Select[Any]:
    if period.department_id is not None:
        stmt = stmt.where(Case.caused_by_department_id == period.department_id)
    return stmt


def department_ids_of(session: Session, staff_id: str) -> set[str]:
    rows = session.execute(
        select(staff_departments.c.department_id).where(staff_departments.c.staff_id == staff_id)
    )
    return {r[0] for r in rows}


def first_contacts(session: Session, period: Period) -> Sequence[Any]:
    """Per case about an order or an incident opened in the period: when the customer first
    wrote, and when we first told them something (incident notices included)."""
    inbound = or_(
        CaseEvent.kind == "message_in",
        and_(CaseEvent.kind == "case_created", CaseEvent.actor_customer_id.is_not(None)),
    )
    outbound = and_(
        CaseEvent.kind.in_(OUTBOUND_KINDS),
        CaseEvent.visibility == "customer",
        CaseEvent.actor_customer_id.is_(None),
    )
    # An incident notice reached the customer when it was fanned out, not when it was written.
    incident_notice = (
        select(func.min(IncidentUpdate.fanned_out_at))
        .where(IncidentUpdate.incident_id == Case.incident_id)
        .correlate(Case)
        .scalar_subquery()
    )
    stmt = (
        select(
            Case.id,
            func.min(case((inbound, CaseEvent.at))).label("first_in"),
            func.min(case((outbound, CaseEvent.at))).label("first_out"),
            incident_notice.label("incident_notice"),
        )
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(
            Case.created_at >= period.since,
            Case.created_at < period.end,
            or_(Case.order_id.is_not(None), Case.incident_id.is_not(None)),
            CaseEvent.at < period.end,
        )
        .group_by(Case.id, Case.incident_id)
    )
    return session.execute(_scoped(stmt, period)).all()


def commitment_outcomes(session: Session, period: Period) -> dict[str, Any]:
    """Commitments whose due time (as finally agreed) fell in the period, by outcome."""
    on_time = and_(Commitment.status == CommitmentStatus.kept, Commitment.closed_at <= Commitment.due_at)
    late = and_(Commitment.status == CommitmentStatus.kept, Commitment.closed_at > Commitment.due_at)
    stmt = (
        select(
            func.count(Commitment.id),
            func.coalesce(func.sum(case((on_time, 1), else_=0)), 0),
            func.coalesce(func.sum(case((late, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Commitment.status == CommitmentStatus.broken, 1), else_=0)), 0),
        )
        .join(Case, Case.id == Commitment.case_id)
        .where(Commitment.due_at >= period.since, Commitment.due_at < period.end)
    )
    due, kept_on_time, kept_late, broken = session.execute(_scoped(stmt, period)).one()
    renegotiated = session.scalar(
        _scoped(
            select(func.count(distinct(Commitment.id)))
            .join(CommitmentRenegotiation, CommitmentRenegotiation.commitment_id == Commitment.id)
            .join(Case, Case.id == Commitment.case_id)
            .where(Commitment.due_at >= period.since, Commitment.due_at < period.end),
            period,
        )
    )
    return {
        "due": int(due),
        "kept_on_time": int(kept_on_time),
        "kept_late": int(kept_late),
        "broken": int(broken),
        "renegotiated": int(renegotiated or 0),
    }


def broken_commitments_by_customer(session: Session, period: Period) -> dict[str, int]:
    stmt = (
        select(Case.customer_id, func.count(Commitment.id))
        .join(Case, Case.id == Commitment.case_id)
        .where(
            Commitment.status == CommitmentStatus.broken,
            Commitment.due_at >= period.since,
            Commitment.due_at < period.end,
        )
        .group_by(Case.customer_id)
    )
    return {customer_id: int(n) for customer_id, n in session.execute(_scoped(stmt, period))}


def window_events(session: Session, period: Period, cadence: dict[str, int]) -> list[rules.WindowEvent]:
    """The window-opening and -closing events of every case that could have had a cadence
    window decided in the period: opened before its end, and not resolved (for good) before
    its start."""
    kinds = tuple(set(rules.WINDOW_STARTS) | set(rules.WINDOW_CLOSES))
    stmt = (
        # Only the one key of `data`, extracted by the database: decoding every JSON document in
        # Python was most of this query's cost.
        select(
            CaseEvent.id,
            Case.id,
            Case.customer_id,
            Case.kind,
            CaseEvent.kind,
            CaseEvent.at,
            CaseEvent.data["update_due"].as_string(),
        )
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(
            Case.created_at < period.end,
            or_(Case.resolved_at.is_(None), Case.resolved_at >= period.since),
            CaseEvent.kind.in_(kinds),
            CaseEvent.at < period.end,
        )
    )
    events = []
    for event_id, case_id, customer_id, case_kind, kind, at, recorded in session.execute(
        _scoped(stmt, period)
    ):
        events.append(
            rules.WindowEvent(
                id=event_id,
                case_id=case_id,
                customer_id=customer_id,
                kind=kind,
                at=at,
                update_due=datetime.fromisoformat(recorded) if recorded else None,
                cadence_minutes=cadence[case_kind],
            )
        )
    return events


def _seconds(session: Session, later: Any, earlier: Any) -> Any:
    """`later - earlier` in seconds, computed by the database (no datetime per row in Python)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def first_response_seconds(session: Session, period: Period) -> tuple[list[float], int]:
    """Cases the customer opened in the period: seconds to our first answer, and how many had
    none before the period's end."""
    answered = and_(Case.first_response_at.is_not(None), Case.first_response_at < period.end)
    stmt = select(case((answered, _seconds(session, Case.first_response_at, Case.created_at)))).where(
        Case.created_at >= period.since, Case.created_at < period.end, Case.proactive.is_(False)
    )
    rows = [r[0] for r in session.execute(_scoped(stmt, period))]
    values = [round(float(v), 3) for v in rows if v is not None]
    return values, len(rows) - len(values)


def resolution_seconds(session: Session, period: Period) -> list[float]:
    """Seconds from opening to resolution of the cases resolved in the period (and still so)."""
    stmt = select(_seconds(session, Case.resolved_at, Case.created_at)).where(
        Case.resolved_at >= period.since, Case.resolved_at < period.end
    )
    return [round(float(r[0]), 3) for r in session.execute(_scoped(stmt, period))]


def resolutions(session: Session, period: Period) -> list[rules.Resolution]:
    stmt = (
        select(Case.id, Case.customer_id, Case.order_id, Case.recurring_issue_id, CaseEvent.at)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.kind == "resolved", CaseEvent.at >= period.since, CaseEvent.at < period.end)
    )
    return [
        rules.Resolution(case_id=r[0], customer_id=r[1], order_id=r[2], recurring_issue_id=r[3], at=r[4])
        for r in session.execute(_scoped(stmt, period))
    ]


def later_contacts(session: Session, period: Period) -> list[rules.Contact]:
    """Cases opened in the period by customers who had a resolution in it, by themselves, about
    an order or a recurring issue: the candidates for a repeat contact (in any department).
    A subquery, not a list of ids: a busy month has more customers than bind parameters."""
    resolved_customers = _scoped(
        select(Case.customer_id)
        .join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.kind == "resolved", CaseEvent.at >= period.since, CaseEvent.at < period.end),
        period,
    )
    stmt = select(Case.id, Case.customer_id, Case.order_id, Case.recurring_issue_id, Case.created_at).where(
        Case.customer_id.in_(resolved_customers),
        Case.proactive.is_(False),
        Case.created_at >= period.since,
        Case.created_at < period.end,
        or_(Case.order_id.is_not(None), Case.recurring_issue_id.is_not(None)),
    )
    return [
        rules.Contact(case_id=r[0], customer_id=r[1], order_id=r[2], recurring_issue_id=r[3], at=r[4])
        for r in session.execute(stmt)
    ]


def resolve_reopen_events(session: Session, period: Period) -> list[tuple[str, str, datetime]]:
    """`resolved` and `reopened` events up to the end, of cases resolved in the period."""
    resolved_in_period = _scoped(
        select(CaseEvent.case_id)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.kind == "resolved", CaseEvent.at >= period.since, CaseEvent.at < period.end),
        period,
    )
    stmt = select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.at).where(
        CaseEvent.case_id.in_(resolved_in_period),
        CaseEvent.kind.in_(("resolved", "reopened")),
        CaseEvent.at < period.end,
    )
    return [(r[0], r[1], r[2]) for r in session.execute(stmt)]


def follow_up_answers(session: Session, period: Period) -> dict[str, int]:
    """Check-ins answered in the period, and how: still fixed, not fixed, no word on it."""
    stmt = (
        select(
            func.count(FollowUp.id),
            func.coalesce(func.sum(case((Feedback.fixed.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Feedback.fixed.is_(False), 1), else_=0)), 0),
        )
        .join(Feedback, Feedback.follow_up_id == FollowUp.id)
        .join(Case, Case.id == FollowUp.case_id)
        .where(FollowUp.answered_at >= period.since, FollowUp.answered_at < period.end)
    )
    answered, fixed, not_fixed = session.execute(_scoped(stmt, period)).one()
    return {"answered": int(answered), "fixed": int(fixed), "not_fixed": int(not_fixed)}


def scores(session: Session, period: Period) -> dict[str, Any]:
    """CSAT and CES given in the period: sum and count of each (means are computed once)."""
    stmt = (
        select(
            func.sum(Feedback.csat),
            func.count(Feedback.csat),
            func.sum(Feedback.ces),
            func.count(Feedback.ces),
        )
        .join(Case, Case.id == Feedback.case_id)
        .where(Feedback.at >= period.since, Feedback.at < period.end)
    )
    csat_sum, csat_n, ces_sum, ces_n = session.execute(_scoped(stmt, period)).one()
    return {"csat_sum": csat_sum, "csat_count": int(csat_n), "ces_sum": ces_sum, "ces_count": int(ces_n)}


def low_scores_by_customer(session: Session, period: Period) -> dict[str, int]:
    low = or_(Feedback.csat <= rules.LOW_CSAT, Feedback.ces <= rules.LOW_CES, Feedback.fixed.is_(False))
    stmt = (
        select(Case.customer_id, func.count(Feedback.id))
        .join(Case, Case.id == Feedback.case_id)
        .where(Feedback.at >= period.since, Feedback.at < period.end, low)
        .group_by(Case.customer_id)
    )
    return {customer_id: int(n) for customer_id, n in session.execute(_scoped(stmt, period))}


def open_cases_by_customer(session: Session, period: Period) -> dict[str, int]:
    """Cases still open or waiting now: unresolved problems, whenever they started."""
    stmt = (
        select(Case.customer_id, func.count(Case.id))
        .where(Case.status.in_(ACTIVE_STATUSES), Case.created_at < period.end)
        .group_by(Case.customer_id)
    )
    return {customer_id: int(n) for customer_id, n in session.execute(_scoped(stmt, period))}


def department_errors(session: Session, period: Period) -> Sequence[Any]:
    """Per department: cases it caused and orders it handled, both opened in the period."""
    caused = (
        select(func.count(Case.id))
        .where(
            Case.caused_by_department_id == Department.id,
            Case.created_at >= period.since,
            Case.created_at < period.end,
        )
        .correlate(Department)
        .scalar_subquery()
    )
    handled = (
        select(func.count(Order.id))
        .where(
            Order.department_id == Department.id,
            Order.created_at >= period.since,
            Order.created_at < period.end,
        )
        .correlate(Department)
        .scalar_subquery()
    )
    stmt = select(Department.id, Department.name, caused.label("cases"), handled.label("orders"))
    if period.department_id is not None:
        stmt = stmt.where(Department.id == period.department_id)
    return session.execute(stmt.order_by(Department.name, Department.id)).all()


def customer_names(session: Session, customer_ids: set[str]) -> dict[str, str]:
    if not customer_ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids)))
    return {r[0]: r[1] for r in rows}
