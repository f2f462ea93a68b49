"""The approvals queue of the staff web app: pending offers the signed-in supervisor may decide,
oldest first, each with its case and why it was proposed; approve or reject with a note. The
forms call offers.service, the very functions behind POST /offers/{id}/approve and /reject."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.cases.models import Case
from ownwell.errors import AppError
from ownwell.kit.pagination import checked_cursor, split_page
from ownwell.offers import repository, service
from ownwell.offers.models import Offer, OfferType
from ownwell.offers.rules import describe
from ownwell.offers.schemas import ApproveIn, RejectIn
from ownwell.web.form_errors import app_error, parse
from ownwell.web.queries import cases_with_customers
from ownwell.web.session import StaffForm, StaffPage, WebCtx

router = APIRouter(include_in_schema=False)
PAGE = 50
Note = Annotated[str, Form(max_length=5000)]


def _queue(
    ctx: WebCtx,
    *,
    cursor: str | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    rows = repository.decidable(ctx.session, actor=ctx.actor, limit=PAGE, cursor=checked_cursor(cursor))
    offers, next_cursor = split_page(rows, PAGE, lambda o: o.id)
    cases = cases_with_customers(ctx.session, (o.case_id for o in offers))
    listed = {o.id for o in offers}
    done = ctx.request.query_params.get("done")
    return ctx.render(
        "staff/approvals.html",
        {
            "nav": "approvals",
            "items": [
                {
                    "offer": o,
                    "what": describe(OfferType(o.type), o.amount, o.currency),
                    "case": cases.get(o.case_id, (None, None))[0],
                    "customer": cases.get(o.case_id, (None, None))[1],
                }
                for o in offers
            ],
            "next_cursor": next_cursor,
            "errors": errors or {},
            # About an offer no longer in the queue (decided meanwhile): said at the top instead.
            "problems": [m for oid, e in (errors or {}).items() if oid not in listed for m in e.values()],
            "flash": {
                "approved": "Approved. The customer is being told.",
                "rejected": "Rejected. The case owner's message to the customer is on its way.",
            }.get(done or ""),
        },
        status_code=status_code,
    )


def _decidable(ctx: WebCtx, offer_id: str) -> tuple[Offer, Case]:
    return service.lock_for_decision(ctx.session, offer_id=offer_id, actor=ctx.actor)


@router.get("/approvals", response_class=HTMLResponse)
def approvals(ctx: StaffPage, cursor: str | None = None) -> Response:
    return _queue(ctx, cursor=cursor)


def _decide(
    ctx: WebCtx, offer_id: str, *, decide: Callable[..., Offer], note: str | None, done: str
) -> Response:
    """Approve or reject through the service; an offer decided meanwhile (409) re-renders the queue."""
    offer, case = _decidable(ctx, offer_id)
    try:
        decide(
            ctx.session,
            offer=offer,
            case=case,
            note=note,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
    except AppError as exc:
        if exc.status_code != 409:
            raise
        return _queue(ctx, errors={offer_id: app_error(exc)}, status_code=409)
    return RedirectResponse(f"/approvals?done={done}", status_code=303)


@router.post("/approvals/{offer_id}/approve")
def approve(offer_id: str, ctx: StaffForm, note: Note = "") -> Response:
    body, errors = parse(ApproveIn, {"note": note or None})
    if body is None:
        return _queue(ctx, errors={offer_id: errors}, status_code=422)
    return _decide(ctx, offer_id, decide=service.approve, note=body.note, done="approved")


@router.post("/approvals/{offer_id}/reject")
def reject(offer_id: str, ctx: StaffForm, note: Note = "") -> Response:
    body, errors = parse(RejectIn, {"note": note})
    if body is None:
        errors = {"note": "Please say why, for the person who proposed it (the customer does not see this)."}
        return _queue(ctx, errors={offer_id: errors}, status_code=422)
    return _decide(ctx, offer_id, decide=service.reject, note=body.note, done="rejected")
