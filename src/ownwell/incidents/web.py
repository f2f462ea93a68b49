"""Incident pages of the staff web app: the list, declaring one (affected customers by pasted
order numbers or picked by search), the incident with its groups and concierges, posting an
update, and delivery progress. The forms call incidents.service and the page reads the same
detail as GET /api/v1/incidents/{id} (incidents.api.incident_detail)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.deps import Ctx
from ownwell.errors import AppError
from ownwell.incidents import policies, repository, service
from ownwell.incidents.api import incident_detail
from ownwell.incidents.schemas import DEFAULT_GROUP_SIZE, IncidentIn, UpdateIn
from ownwell.kit.pagination import checked_cursor, split_page
from ownwell.staff.service import is_manager
from ownwell.web import pickers
from ownwell.web.form_errors import app_error, parse, per_input
from ownwell.web.session import StaffForm, StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
PAGE = 50
Text = Annotated[str, Form(max_length=5000)]
# Up to 100,000 order numbers pasted: about 2 MB of text.
Pasted = Annotated[str, Form(max_length=2_500_000)]
SEPARATORS = re.compile(r"[\s,;]+")


def _api_ctx(ctx: WebCtx) -> Ctx:
    return Ctx(session=ctx.session, actor=ctx.actor, now=ctx.now, settings=ctx.settings)


@router.get("/incidents", response_class=HTMLResponse)
def incidents(ctx: StaffPage, cursor: str | None = None) -> Response:
    rows = repository.list_page(ctx.session, limit=PAGE, cursor=checked_cursor(cursor))
    items, next_cursor = split_page(rows, PAGE, lambda i: i.id)
    names = pickers.department_names(ctx.session, [i.caused_by_department_id for i in items])
    return ctx.render(
        "staff/incidents.html",
        {
            "nav": "incidents",
            "incidents": items,
            "departments": names,
            "next_cursor": next_cursor,
            "may_manage": is_manager(ctx.actor),
        },
    )


def _new_form(
    ctx: WebCtx,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    values = values or {}
    picked = values.get("customer_ids") or []
    return ctx.render(
        "staff/incident_new.html",
        {
            "nav": "incidents",
            "departments": pickers.all_departments(ctx.session),
            "people": pickers.all_staff(ctx.session),
            "values": {"owner_id": ctx.actor.id, "group_size": DEFAULT_GROUP_SIZE, **values},
            # Customers already picked stay picked when the form comes back with an error.
            "picked": pickers.customers_by_id(ctx.session, picked) if picked else [],
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/incidents/new", response_class=HTMLResponse)
def new_incident(ctx: StaffPage) -> Response:
    policies.require_incident_manager(ctx.actor, "declare an incident")
    return _new_form(ctx)


@router.get("/incidents/customer-search", response_class=HTMLResponse)
def customer_search(ctx: StaffPage, q: str = "") -> Response:
    """HTMX: customers matching `q`, as checkboxes to add to the incident."""
    policies.require_incident_manager(ctx.actor, "declare an incident")
    found = pickers.find_customers(ctx.session, q[:200])
    return ctx.render("staff/_customer_picks.html", {"found": found, "q": q[:200]})


@router.post("/incidents")
def create_incident(
    ctx: StaffForm,
    title: Text = "",
    caused_by_department_id: Text = "",
    owner_id: Text = "",
    order_numbers: Pasted = "",
    customer_ids: Annotated[list[str], Form(max_length=1000)] = [],  # noqa: B006 (FastAPI copies it)
    message: Text = "",
    group_size: Text = "",
) -> Response:
    policies.require_incident_manager(ctx.actor, "declare an incident")
    orders = [o for o in SEPARATORS.split(order_numbers) if o]
    values = {
        "title": title,
        "caused_by_department_id": caused_by_department_id,
        "owner_id": owner_id,
        "order_numbers": order_numbers,
        "customer_ids": customer_ids,
        "message": message,
        "group_size": group_size,
    }
    if orders and customer_ids:
        errors = {"affected": "Paste order numbers or pick customers, not both."}
        return _new_form(ctx, values=values, errors=errors, status_code=422)
    if not orders and not customer_ids:
        errors = {"affected": "Paste the order numbers of the affected customers, or pick customers."}
        return _new_form(ctx, values=values, errors=errors, status_code=422)
    data, errors = parse(
        IncidentIn,
        {
            "title": title,
            "caused_by_department_id": caused_by_department_id,
            "owner_id": owner_id,
            "customer_ids": customer_ids or None,
            "order_external_ids": orders or None,
            "message": message,
            "group_size": group_size.strip() or DEFAULT_GROUP_SIZE,
        },
    )
    if data is None:
        return _new_form(ctx, values=values, errors=per_input(errors), status_code=422)
    try:
        incident = service.create_incident(
            ctx.session, data=data, actor=ctx.actor, now=ctx.now, settings=ctx.settings
        )
    except AppError as exc:
        # Nothing of the incident may stay behind: the page is rendered, so roll back here.
        ctx.session.rollback()
        return _new_form(ctx, values=values, errors=per_input(app_error(exc)), status_code=exc.status_code)
    return RedirectResponse(f"/incidents/{incident.id}?done=declared", status_code=303)


def _incident_page(
    ctx: WebCtx,
    incident_id: str,
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
    status_code: int = 200,
) -> Response:
    incident = repository.get(ctx.session, incident_id)
    detail = incident_detail(_api_ctx(ctx), incident)
    names = pickers.department_names(ctx.session, [incident.caused_by_department_id])
    done = ctx.request.query_params.get("done")
    return ctx.render(
        "staff/incident.html",
        {
            "nav": "incidents",
            "incident": detail,
            "department": names.get(incident.caused_by_department_id, ""),
            "may_manage": is_manager(ctx.actor),
            "errors": errors or {},
            "message": message,
            "flash": {
                "declared": "Incident declared. Every affected customer is being told by their concierge.",
                "updated": "Update posted. It is going out to every affected customer.",
            }.get(done or ""),
        },
        status_code=status_code,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(incident_id: str, ctx: StaffPage) -> Response:
    return _incident_page(ctx, incident_id)


@router.get("/incidents/{incident_id}/delivery", response_class=HTMLResponse)
def delivery(incident_id: str, ctx: StaffPage) -> Response:
    """HTMX: the delivery progress block alone, polled while messages are still going out."""
    detail = incident_detail(_api_ctx(ctx), repository.get(ctx.session, incident_id))
    return ctx.render("staff/_incident_delivery.html", {"incident": detail})


@router.post("/incidents/{incident_id}/updates")
def post_update(incident_id: str, ctx: StaffForm, message: Text = "") -> Response:
    policies.require_incident_manager(ctx.actor, "post an incident update")
    data, errors = parse(UpdateIn, {"message": message})
    if data is None:
        return _incident_page(ctx, incident_id, errors=errors, message=message, status_code=422)
    incident = repository.get(ctx.session, incident_id, for_update=True)
    service.post_update(ctx.session, incident=incident, data=data, actor=ctx.actor, now=ctx.now)
    return RedirectResponse(f"/incidents/{incident.id}?done=updated#updates", status_code=303)
