"""The department board (P2, "you break, you buy"): per department, the open cases it caused,
its open proactive cases, the promises it let slip, and its error rate (cases caused per 1,000
orders handled, the metrics domain's own figure) over the last 30 days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ownwell.metrics import policies as metrics_policies
from ownwell.metrics import repository as metrics_repository
from ownwell.metrics.repository import Period
from ownwell.metrics.service import DEFAULT_DAYS
from ownwell.staff import board
from ownwell.staff import repository as staff_repository
from ownwell.web import pickers
from ownwell.web.session import StaffPage, WebCtx

router = APIRouter(include_in_schema=False)


def _error_rates(
    ctx: WebCtx, department_ids: Sequence[str], *, only: str | None = None
) -> dict[str, tuple[int, int, float | None] | None]:
    """department id -> (cases caused, orders handled, per 1,000 orders) in the last 30 days, or
    None for a department whose metrics the viewer may not read (metrics.policies: an admin
    reads all, a supervisor their own departments, an agent none)."""
    readable = metrics_policies.readable_department_ids(ctx.session, ctx.actor)
    period = Period(since=ctx.now - timedelta(days=DEFAULT_DAYS), end=ctx.now, department_id=only)
    found = {}
    if readable is None or readable:
        found = {
            d_id: (int(cases), int(orders), round(cases * 1000 / orders, 1) if orders else None)
            for d_id, _name, cases, orders in metrics_repository.department_errors(ctx.session, period)
        }
    return {
        d: (found.get(d, (0, 0, None)) if readable is None or d in readable else None) for d in department_ids
    }


@router.get("/departments", response_class=HTMLResponse)
def departments(ctx: StaffPage) -> Response:
    caused = board.open_caused_counts(ctx.session)
    overdue = board.overdue_promise_counts(ctx.session, now=ctx.now)
    every = pickers.all_departments(ctx.session)
    rates = _error_rates(ctx, [d.id for d in every])
    rows = [
        {
            "department": d,
            "open": caused.get(d.id, (0, 0))[0],
            "proactive": caused.get(d.id, (0, 0))[1],
            "overdue": overdue.get(d.id, 0),
            "rate": rates.get(d.id),
        }
        for d in every
    ]
    return ctx.render("staff/departments.html", {"nav": "departments", "rows": rows, "days": DEFAULT_DAYS})


@router.get("/departments/{department_id}", response_class=HTMLResponse)
def department(department_id: str, ctx: StaffPage) -> Response:
    found = staff_repository.get_department(ctx.session, department_id)
    return ctx.render(
        "staff/department.html",
        {
            "nav": "departments",
            "department": found,
            "caused": board.open_caused_cases(ctx.session, found.id, proactive=False),
            "proactive": board.open_caused_cases(ctx.session, found.id, proactive=True),
            "overdue": board.overdue_promises(ctx.session, found.id, now=ctx.now),
            "counts": board.open_caused_counts(ctx.session).get(found.id, (0, 0)),
            "rate": _error_rates(ctx, [found.id], only=found.id)[found.id],
            "days": DEFAULT_DAYS,
            "limit": board.LIST_LIMIT,
        },
    )
