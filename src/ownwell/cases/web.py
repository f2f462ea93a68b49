"""The case page of the staff web app, its live refresh, and case search. The forms that act on
a case are in cases/web_forms.py; both read and write through the domain services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.cases import policies as case_policies
from ownwell.cases import repository as case_repository
from ownwell.cases.models import ACTIVE_STATUSES, CaseEvent, CaseStatus
from ownwell.commitments import repository as commitment_repository
from ownwell.commitments.models import PENDING_STATUSES
from ownwell.errors import Forbidden
from ownwell.knowledge import repository as knowledge_repository
from ownwell.offers import policies as offer_policies
from ownwell.offers import repository as offer_repository
from ownwell.offers.models import OfferStatus, OfferType
from ownwell.web import queries
from ownwell.web.forms import local_input
from ownwell.web.session import StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
LIVE_SECONDS = 10

# How each kind of timeline event reads on the page ("Mia Jensen wrote").
EVENT_VERBS = {
    "case_created": "opened the case",
    "message_in": "wrote",
    "message_out": "replied to the customer",
    "note": "added an internal note",
    "handoff": "handed the case over",
    "owner_changed": "changed the owner",
    "attributed": "attributed the case",
    "commitment_made": "made a promise",
    "commitment_kept": "kept a promise",
    "commitment_renegotiated": "moved a promise",
    "commitment_broken": "promise broken",
    "offer_proposed": "proposed an offer",
    "offer_approved": "approved an offer",
    "offer_rejected": "rejected an offer",
    "offer_applied": "made it right",
    "offer_declined": "told the customer an offer was declined",
    "fair_solution": "proposed a fair solution",
    "resolved": "resolved the case",
    "reopened": "reopened the case",
    "sender_verified": "answered from their own address",
    "identifiers_changed": "changed the customer's contact details",
}
# Messages after a successful form, chosen by key so that nothing typed is echoed back.
DONE = {
    "reply": "Your reply is on its way to the customer.",
    "note": "Internal note saved.",
    "commitment": "Promise made; the customer can see it.",
    "kept": "Promise marked as kept.",
    "renegotiated": "The promise has a new date; the customer can see why.",
    "transferred": "The case has a new owner; they have your hand-off note.",
    "attributed": "Attribution saved.",
    "offer_applied": "Offer applied; the customer has been told.",
    "offer_pending": "Offer sent to a supervisor for approval.",
    "approved": "Offer approved and applied.",
    "rejected": "Offer rejected; the owner tells the customer.",
    "resolved": "Case resolved; the customer is asked to confirm.",
    "reopened": "Case reopened.",
}


def _latest(events: list[CaseEvent], kind: str) -> CaseEvent | None:
    return next((e for e in events if e.kind == kind), None)  # events are newest first


def case_context(ctx: WebCtx, case_id: str) -> dict[str, Any]:
    """Everything the case page shows, loaded in a fixed number of queries."""
    session = ctx.session
    case = case_policies.require_can_view(ctx.actor, case_repository.get(session, case_id))
    events = list(queries.events_of(session, case.id))
    opened = next((e for e in reversed(events) if e.kind == "case_created"), None)
    offers = list(offer_repository.for_case(session, case.id))
    decidable: set[str] = set()
    if any(o.status == OfferStatus.pending_approval for o in offers):
        mine = offer_repository.department_ids_of(session, ctx.actor.id)
        for offer in offers:
            if offer.status != OfferStatus.pending_approval:
                continue
            try:
                offer_policies.require_can_decide(
                    ctx.actor,
                    offer,
                    actor_department_ids=mine,
                    deciding_department_ids=offer_repository.offer_department_ids(offer),
                )
            except Forbidden:
                continue
            decidable.add(offer.id)
    commitments = list(commitment_repository.for_case(session, case.id))
    return {
        "nav": "cases",
        "case": case,
        "active": case.status in ACTIVE_STATUSES,
        "events": events,
        "verbs": EVENT_VERBS,
        "opened": opened,
        "latest_in": _latest(events, "message_in"),
        "fair": _latest(events, "fair_solution"),
        "panel": queries.customer_panel(session, case.customer_id),
        "commitments": commitments,
        "pending": PENDING_STATUSES,
        "offers": offers,
        "decidable": decidable,
        "offer_types": list(OfferType),
        "authority": {
            OfferType.refund: ctx.actor.authority_refund,
            OfferType.replacement: ctx.actor.authority_replacement,
            OfferType.store_credit: ctx.actor.authority_credit,
            OfferType.goodwill: ctx.actor.authority_goodwill,
        },
        "people": queries.people(session),
        "departments": queries.departments(session),
        "department_names": queries.department_names(
            session,
            [case.caused_by_department_id, *(e.data.get("new") for e in events if e.kind == "attributed")],
        ),
        "stamp": queries.case_stamp(session, case),
        "live_seconds": LIVE_SECONDS,
        "local_input": local_input,
        "resolved": case.status in (CaseStatus.resolved, CaseStatus.closed),
        # P12: next-issue tips already written for this case's recurring issue, to reuse.
        "suggested_tips": knowledge_repository.suggested_tips(session, case.recurring_issue_id)
        if case.status in ACTIVE_STATUSES
        else [],
    }


def render_case(
    ctx: WebCtx,
    case_id: str,
    *,
    done: str | None = None,
    failed: Mapping[str, str | None] | None = None,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The case page; after a refused form, with the error beside the form and its values kept.
    `failed` = {"form": ..., "field": ..., "message": ...}."""
    context = case_context(ctx, case_id)
    context.update(flash=DONE.get(done or ""), failed=failed or {}, values=values or {})
    return ctx.render("staff/case.html", context, status_code=status_code)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, ctx: StaffPage, done: str | None = None) -> Response:
    return render_case(ctx, case_id, done=done)


@router.get("/app/cases/{case_id}")
def staff_link(case_id: str) -> Response:
    """The address reminders and notices to staff link to (`{base_url}/app/cases/{id}`)."""
    return RedirectResponse(f"/cases/{quote(case_id, safe='')}", status_code=303)


@router.get("/cases/{case_id}/live", response_class=HTMLResponse)
def case_live(case_id: str, ctx: StaffPage, v: Annotated[str, Query(max_length=64)] = "") -> Response:
    """Polled by the open case page. Unchanged: 204 (HTMX leaves the page alone). Changed: the
    new head and timeline, swapped in out of band, so forms being typed into are untouched."""
    case = case_policies.require_can_view(ctx.actor, case_repository.get(ctx.session, case_id))
    if queries.case_stamp(ctx.session, case) == v:
        return Response(status_code=204)
    context = case_context(ctx, case_id)
    latest = context["events"][0] if context["events"] else None
    return ctx.render("staff/case_live.html", {**context, "latest": latest})


@router.get("/cases", response_class=HTMLResponse)
def search(
    ctx: StaffPage,
    q: Annotated[str, Query(max_length=200)] = "",
    scope: Annotated[str, Query(max_length=20)] = "active",
) -> Response:
    """Search cases by case id, customer (any identifier or name), order number or words."""
    text = q.strip()
    active_only = scope != "all"
    # One customer search serves both the case matches and the customers listed beside them.
    customers = queries.search_customers(ctx.session, text, limit=200) if text else []
    rows = queries.search_cases(ctx.session, text, active_only=active_only, customers=customers)
    return ctx.render(
        "staff/cases.html",
        {
            "nav": "cases",
            "q": text,
            "scope": "active" if active_only else "all",
            "rows": rows,
            "customers": customers[:10],
            "limit": queries.SEARCH_LIMIT,
        },
    )
