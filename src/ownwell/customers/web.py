"""Customer 360 in the staff web app: everything we know about one customer (P6), their cases,
orders and history in one place, and the list/search of customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.cases import repository as case_repository
from ownwell.cases.web import EVENT_VERBS
from ownwell.commitments.models import PENDING_STATUSES
from ownwell.customers import erasure, export, policies, repository, service
from ownwell.customers.schemas import EraseIn, FactIn
from ownwell.errors import AppError
from ownwell.kit.pagination import checked_cursor, split_page
from ownwell.staff.models import Staff
from ownwell.web import queries
from ownwell.web.form_errors import app_error, parse
from ownwell.web.session import StaffForm, StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
PAGE = 50
FLASHES = {
    "fact": "Fact saved: nobody needs to ask again.",
    "erased": "Their personal data is erased. The record stays, without it.",
}


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
            "flash": FLASHES.get(done or ""),
            "erased_by": ctx.session.get(Staff, panel.customer.erased_by_id)
            if panel.customer.erased_by_id
            else None,
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


@router.get("/customers/{customer_id}/export.zip")
def export_zip(customer_id: str, ctx: StaffPage) -> Response:
    """Their data to hand over (GDPR art. 15/20): customer.json and the files they sent."""
    policies.require_can_export(ctx.actor)
    content = export.export_zip(ctx.session, customer_id=customer_id, now=ctx.now)
    return Response(
        content,
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="customer-{customer_id}.zip"',
            "cache-control": "no-store",
        },
    )


@router.post("/customers/{customer_id}/erase")
def erase(
    customer_id: str,
    ctx: StaffForm,
    reason: Annotated[str, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Admins only; the reason is required and the customer's id typed again, as it cannot be undone."""
    policies.require_can_erase(ctx.actor)
    customer = repository.get(ctx.session, customer_id)
    values = {"reason": reason, "confirm": confirm}
    data, errors = parse(EraseIn, {"reason": reason})
    if confirm.strip() != customer.id:
        errors["confirm"] = f"Type the customer's id, {customer.id}, to confirm"
    if data is None or errors:
        return _render(ctx, customer_id, errors=errors, values=values, status_code=422)
    erasure.erase_customer(ctx.session, customer=customer, reason=data.reason, actor=ctx.actor, now=ctx.now)
    return RedirectResponse(f"/customers/{customer_id}?done=erased", status_code=303)
