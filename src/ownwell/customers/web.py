"""Customer 360 in the staff web app: everything we know about one customer (P6), their cases,
orders and history in one place, and the list/search of customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.cases import repository as case_repository
from ownwell.cases.web import EVENT_VERBS
from ownwell.commitments.models import PENDING_STATUSES
from ownwell.customers import repository, service
from ownwell.customers.schemas import FactIn
from ownwell.errors import AppError
from ownwell.kit.pagination import checked_cursor, split_page
from ownwell.web import queries
from ownwell.web.form_errors import app_error, parse
from ownwell.web.session import StaffForm, StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/customers", response_class=HTMLResponse)
def customers(
    ctx: StaffPage,
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: str | None = None,  # checked as the API checks it: an error page, not a JSON one
) -> Response:
    """Newest first; with `q`, by any identifier in any spelling, or part of a name."""
    text = q.strip()
    next_cursor = None
    if text:
        rows = list(queries.search_customers(ctx.session, text))
    else:
        found = repository.list_page(ctx.session, limit=PAGE, cursor=checked_cursor(cursor))
        rows, next_cursor = split_page(found, PAGE, lambda c: c.id)
    return ctx.render(
        "staff/customers.html", {"nav": "customers", "q": text, "rows": rows, "next_cursor": next_cursor}
    )


def _render(
    ctx: WebCtx,
    customer_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    panel = queries.customer_panel(ctx.session, customer_id, cases_limit=200)
    case_ids = [c.id for c in panel.cases]
    promises = [
        c for c in queries.commitments_of_cases(ctx.session, case_ids) if c.status in PENDING_STATUSES
    ]
    return ctx.render(
        "staff/customer.html",
        {
            "nav": "customers",
            "panel": panel,
            "promises": promises,
            "subjects": {c.id: c.subject for c in panel.cases},
            "verbs": EVENT_VERBS,
            "history": case_repository.recent_customer_events(ctx.session, customer_id, limit=30),
            "errors": errors or {},
            "values": values or {},
            "flash": "Fact saved: nobody needs to ask again." if done == "fact" else None,
        },
        status_code=status_code,
    )


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_360(customer_id: str, ctx: StaffPage, done: str | None = None) -> Response:
    return _render(ctx, customer_id, done=done)


@router.post("/customers/{customer_id}/facts")
def add_fact(customer_id: str, ctx: StaffForm, text: Annotated[str, Form(max_length=4000)] = "") -> Response:
    customer = repository.get(ctx.session, customer_id)
    data, errors = parse(FactIn, {"text": text})
    if data is None:
        return _render(ctx, customer_id, errors=errors, values={"text": text}, status_code=422)
    try:
        service.add_fact(ctx.session, customer=customer, text=data.text, actor=ctx.actor, now=ctx.now)
    except AppError as exc:
        ctx.session.rollback()
        return _render(
            ctx,
            customer_id,
            errors=app_error(exc, "text"),
            values={"text": text},
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/customers/{customer_id}?done=fact#facts", status_code=303)
