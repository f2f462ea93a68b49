"""The metrics of SPEC "Metrics", for one period and optionally one department. Read-only:
it never writes, so it needs no timeline event and may run on a read replica."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.cases.rules import DEFAULT_CADENCE_MINUTES
from ownwell.errors import InvalidInput
from ownwell.metrics import repository, rules
from ownwell.metrics.repository import Period
from ownwell.metrics.schemas import (
    DepartmentErrors,
    DisloyaltyRisk,
    Durations,
    FirstResponse,
    FollowUpRate,
    MetricsOut,
    PromiseRate,
    Rate,
    RiskItem,
    RiskParts,
    Score,
)
from ownwell.staff import repository as staff_repository

DEFAULT_DAYS = 30
MAX_DAYS = 366


def period_of(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    department_id: str | None,
    now: datetime,
) -> Period:
    until = until or now
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if since >= until:
        raise InvalidInput("since must be before until", field="since")
    if until - since > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"a period is at most {MAX_DAYS} days long", field="since")
    if department_id is not None:
        staff_repository.get_department(session, department_id, field="department_id")
    # Nothing after now has happened yet: a period reaching into the future ends now.
    return Period(since=since, end=min(until, now), department_id=department_id)


def _rate(numerator: int, denominator: int) -> Rate:
    return Rate(value=rules.rate(numerator, denominator), numerator=numerator, denominator=denominator)


def _durations(values: list[float]) -> dict[str, float | int | None]:
    return {
        "p50_seconds": rules.percentile(values, 50),
        "p90_seconds": rules.percentile(values, 90),
        "count": len(values),
    }


def compute(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None,
    department_id: str | None,
    now: datetime,
    risk_limit: int = 20,
) -> MetricsOut:
    period = period_of(session, since=since, until=until, department_id=department_id, now=now)

    # Proactive ratio: we spoke first (our notice before any word from the customer).
    contacts = repository.first_contacts(session, period)
    proactive = 0
    for _case_id, first_in, first_out, incident_notice in contacts:
        ours = min((t for t in (first_out, incident_notice) if t is not None), default=None)
        if ours is not None and (first_in is None or ours < first_in):
            proactive += 1

    promises = repository.commitment_outcomes(session, period)
    pending = promises["due"] - promises["kept_on_time"] - promises["kept_late"] - promises["broken"]

    cadence = dict(DEFAULT_CADENCE_MINUTES)
    cadence.update({p.kind: p.update_every_minutes for p in case_repository.cadence_policies(session)})
    windows = [
        w
        for w in rules.cadence_windows(repository.window_events(session, period, cadence), end=period.end)
        if period.since <= w.decided_at < period.end
    ]

    # An answer after the period's end was not there yet: the case was still waiting then.
    first_seconds, unanswered = repository.first_response_seconds(session, period)
    resolution_seconds = repository.resolution_seconds(session, period)

    resolutions = repository.resolutions(session, period)
    repeated = rules.repeats(resolutions, repository.later_contacts(session, period))
    resolved_count, reopened = rules.reopened_resolutions(
        repository.resolve_reopen_events(session, period), since=period.since, end=period.end
    )

    follow = repository.follow_up_answers(session, period)
    scores = repository.scores(session, period)

    departments = [
        DepartmentErrors(
            department_id=d_id,
            name=name,
            cases=int(cases),
            orders=int(orders),
            per_1000_orders=round(cases * 1000 / orders, 2) if orders else None,
        )
        for d_id, name, cases, orders in repository.department_errors(session, period)
    ]

    return MetricsOut(
        since=period.since,
        until=until or now,
        department_id=department_id,
        proactive_ratio=_rate(proactive, len(contacts)),
        promise_kept_rate=PromiseRate(
            value=rules.rate(promises["kept_on_time"], promises["due"]),
            numerator=promises["kept_on_time"],
            denominator=promises["due"],
            kept_late=promises["kept_late"],
            broken=promises["broken"],
            pending=pending,
            renegotiated=promises["renegotiated"],
        ),
        update_on_time_rate=_rate(sum(w.on_time for w in windows), len(windows)),
        first_response_time=FirstResponse(**_durations(first_seconds), unanswered=unanswered),  # type: ignore[arg-type]
        time_to_resolution=Durations(**_durations(resolution_seconds)),  # type: ignore[arg-type]
        repeat_contact_rate=_rate(len(repeated), len(resolutions)),
        reopen_rate=_rate(reopened, resolved_count),
        follow_up_success_rate=FollowUpRate(
            value=rules.rate(follow["fixed"], follow["answered"]),
            numerator=follow["fixed"],
            denominator=follow["answered"],
            not_fixed=follow["not_fixed"],
            no_answer_on_fixed=follow["answered"] - follow["fixed"] - follow["not_fixed"],
        ),
        csat=Score(mean=rules.mean(scores["csat_sum"], scores["csat_count"]), count=scores["csat_count"]),
        ces=Score(mean=rules.mean(scores["ces_sum"], scores["ces_count"]), count=scores["ces_count"]),
        department_error_rate=departments,
        disloyalty_risk=_risk(
            session,
            period,
            late=Counter(w.customer_id for w in windows if not w.on_time),
            repeats=Counter(r.customer_id for r in repeated),
            limit=risk_limit,
        ),
    )


def _risk(
    session: Session, period: Period, *, late: Counter[str], repeats: Counter[str], limit: int
) -> DisloyaltyRisk:
    """Customers ranked by unresolved friction; the parts and weights come with the score."""
    counts = {
        "open_problems": repository.open_cases_by_customer(session, period),
        "broken_commitments": repository.broken_commitments_by_customer(session, period),
        "late_updates": dict(late),
        "repeat_contacts": dict(repeats),
        "low_scores": repository.low_scores_by_customer(session, period),
    }
    customers = set().union(*(c.keys() for c in counts.values()))
    ranked = []
    for customer_id in customers:
        parts = {name: by_customer.get(customer_id, 0) for name, by_customer in counts.items()}
        ranked.append((rules.risk_score(parts), customer_id, parts))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    top = ranked[:limit]
    names = repository.customer_names(session, {customer_id for _, customer_id, _ in top})
    return DisloyaltyRisk(
        weights=dict(rules.RISK_WEIGHTS),
        items=[
            RiskItem(
                customer_id=customer_id,
                name=names.get(customer_id, ""),
                score=score,
                parts=RiskParts(**parts),
            )
            for score, customer_id, parts in top
            if score > 0
        ],
    )
