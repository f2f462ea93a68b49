"""The insights dashboard of the staff web app (issue #6): the care metrics week by week as
server-rendered SVG charts, each with its numbers in a table, for the organisation (admins) or
one department (its supervisors). Every figure is metrics.service.compute's, the same as
GET /api/v1/metrics for that week."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ownwell.errors import InvalidInput
from ownwell.insights import repository as insight_repository
from ownwell.kit.pagination import MAX_LIMIT
from ownwell.metrics import policies, repository, service
from ownwell.metrics.schemas import MetricsOut, Rate
from ownwell.staff.models import Role
from ownwell.web import pickers
from ownwell.web.charts import Series, bar_chart, fmt, line_chart
from ownwell.web.session import StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
WEEK = timedelta(days=7)
MIN_WEEKS, MAX_WEEKS, DEFAULT_WEEKS = 4, 26, 8
TOP_ISSUES = 5


def _percent(rate: Rate) -> float | None:
    return None if rate.value is None else round(100 * rate.value, 1)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _label(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.day} {local:%b}"


def chosen_department(ctx: WebCtx, department_id: str | None) -> str | None:
    """A supervisor reads their own department: the first one unless they chose another."""
    if department_id or ctx.actor.role == Role.admin:
        return department_id or None
    mine = repository.department_ids_of(ctx.session, ctx.actor.id)
    return next((d.id for d in pickers.all_departments(ctx.session) if d.id in mine), None)


def _charts(weeks: list[MetricsOut], labels: list[str], whole: MetricsOut) -> list[object]:
    def line(key: str, title: str, unit: str, series: list[Series], y_max: float | None = None) -> object:
        return line_chart(key=key, title=title, unit=unit, x_labels=labels, series=series, y_max=y_max)

    return [
        line(
            "proactive",
            "Proactive ratio",
            "%",
            [Series("we spoke first", [_percent(w.proactive_ratio) for w in weeks])],
            100,
        ),
        line(
            "promises",
            "Promises kept on time",
            "%",
            [Series("kept on time", [_percent(w.promise_kept_rate) for w in weeks])],
            100,
        ),
        line(
            "updates",
            "Updates on time",
            "%",
            [Series("on time", [_percent(w.update_on_time_rate) for w in weeks])],
            100,
        ),
        line(
            "first-response",
            "First response time",
            "h",
            [
                Series("median", [_hours(w.first_response_time.p50_seconds) for w in weeks]),
                Series("90th percentile", [_hours(w.first_response_time.p90_seconds) for w in weeks], tone=1),
            ],
        ),
        line(
            "resolution",
            "Time to resolution",
            "h",
            [
                Series("median", [_hours(w.time_to_resolution.p50_seconds) for w in weeks]),
                Series("90th percentile", [_hours(w.time_to_resolution.p90_seconds) for w in weeks], tone=1),
            ],
        ),
        line("csat", "Satisfaction (CSAT, 1 to 5)", "", [Series("mean", [w.csat.mean for w in weeks])], 5),
        line(
            "ces",
            "Customer effort (CES, 1 to 7, higher is easier)",
            "",
            [Series("mean score", [w.ces.mean for w in weeks])],
            7,
        ),
        bar_chart(
            key="errors",
            title="Department error rate (cases caused per 1,000 orders)",
            unit="",
            rows=[
                (d.name, d.per_1000_orders, f"{d.cases} cases / {d.orders:,} orders")
                for d in whole.department_error_rate
            ],
        ),
    ]


def _recurring_chart(
    ctx: WebCtx, *, starts: list[datetime], labels: list[str], department_id: str | None
) -> object:
    """The TOP_ISSUES recurring issues with the most cases in these weeks: cases per week each."""
    issues = [
        i
        for i in insight_repository.list_page(ctx.session, since=starts[0], limit=MAX_LIMIT, cursor=None)
        if department_id is None or i.department_id == department_id
    ]
    arrivals = insight_repository.arrivals_since(ctx.session, [i.id for i in issues], starts[0])
    weekly: dict[str, list[float | None]] = {i.id: [0.0] * len(starts) for i in issues}
    for issue_id, at in arrivals:
        week = int((at - starts[0]) / WEEK)
        if 0 <= week < len(starts):
            weekly[issue_id][week] = (weekly[issue_id][week] or 0) + 1
    top = sorted(issues, key=lambda i: (-sum(v or 0 for v in weekly[i.id]), i.label))[:TOP_ISSUES]
    top = [i for i in top if sum(v or 0 for v in weekly[i.id])]
    return line_chart(
        key="recurring",
        title="Top recurring issues (cases per week)",
        unit="",
        x_labels=labels,
        series=[Series(i.label[:60], weekly[i.id], tone=n) for n, i in enumerate(top)],
    )


@router.get("/insights", response_class=HTMLResponse)
def insights(ctx: StaffPage, department_id: str | None = None, weeks: int = DEFAULT_WEEKS) -> Response:
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise InvalidInput(f"weeks must be between {MIN_WEEKS} and {MAX_WEEKS}", field="weeks")
    chosen = chosen_department(ctx, department_id)
    policies.require_can_read(ctx.session, ctx.actor, chosen)
    start = ctx.now - weeks * WEEK
    starts = [start + i * WEEK for i in range(weeks)]
    per_week = [
        service.compute(ctx.session, since=s, until=s + WEEK, department_id=chosen, now=ctx.now, risk_limit=1)
        for s in starts
    ]
    whole = service.compute(
        ctx.session, since=start, until=ctx.now, department_id=chosen, now=ctx.now, risk_limit=10
    )
    labels = [_label(s, ctx.settings.timezone) for s in starts]
    recurring = _recurring_chart(ctx, starts=starts, labels=labels, department_id=chosen)
    departments = pickers.all_departments(ctx.session)
    if ctx.actor.role != Role.admin:
        mine = repository.department_ids_of(ctx.session, ctx.actor.id)
        departments = [d for d in departments if d.id in mine]
    return ctx.render(
        "staff/insights.html",
        {
            "nav": "insights",
            "charts": [*_charts(per_week, labels, whole), recurring],
            "whole": whole,
            "weeks": weeks,
            "week_choices": [4, 8, 13, 26],
            "departments": departments,
            "chosen": chosen,
            "is_admin": ctx.actor.role == Role.admin,
            "fmt": fmt,
            "pct": _percent,
            "hours": _hours,
        },
    )
