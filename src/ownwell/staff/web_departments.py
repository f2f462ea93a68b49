"""The department board (P2, "you break, you buy"): per department, the open cases it caused,
its open proactive cases, the promises it let slip, and its error rate (cases caused per 1,000
orders handled, the metrics domain's own figure) over the last 30 days."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ownwell.metrics import repository as metrics_repository
from ownwell.metrics.repository import Period
from ownwell.metrics.service import DEFAULT_DAYS
from ownwell.staff import board
from ownwell.staff import repository as staff_repository
from ownwell.web import pickers
from ownwell.web.session import StaffPage, WebCtx

router = APIRouter(include_in_schema=False)


def _error_rates(ctx: WebCtx, department_id: str | None) -> dict[str, tuple[int, int, float | None]]:
    """department id -> (cases caused, orders handled, per 1,000 orders) in the last 30 days."""
    period = Period(since=ctx.now - timedelta(days=DEFAULT_DAYS), end=ctx.now, department_id=department_id)
    return {
        d_id: (int(cases), int(orders), round(cases * 1000 / orders, 1) if orders else None)
        for d_id, _name, cases, orders in metrics_repository.department_errors(ctx.session, period)
    }


@router.get("/departments", response_class=HTMLResponse)
def departments(ctx: StaffPage) -> Response:
    caused = board.open_caused_counts(ctx.session)
    overdue = board.overdue_promise_counts(ctx.session, now=ctx.now)
    rates = _error_rates(ctx, None)
    rows = [
        {
            "department": d,
            "open": caused.get(d.id, (0, 0))[0],
            "proactive": caused.get(d.id, (0, 0))[1],
            "overdue": overdue.get(d.id, 0),
            "rate": rates.get(d.id, (0, 0, None)),
        }
        for d in pickers.all_departments(ctx.session)
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
            "rate": _error_rates(ctx, found.id).get(found.id, (0, 0, None)),
            "days": DEFAULT_DAYS,
            "limit": board.LIST_LIMIT,
        },
    )
