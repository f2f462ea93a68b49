"""JSON routes for resolution offers and the approvals queue."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.cases import policies as case_policies
from ownwell.cases import repository as case_repository
from ownwell.cases.models import Case
from ownwell.deps import ApiContext, Ctx
from ownwell.errors import InvalidInput, NotFound
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import PageCursor
from ownwell.offers import policies, repository, service
from ownwell.offers.models import Offer, OfferStatus
from ownwell.offers.schemas import ApproveIn, OfferIn, OfferOut, Person, RejectIn

router = APIRouter(tags=["offers"])


def offer_out(offer: Offer) -> OfferOut:
    decided_by = offer.decided_by
    return OfferOut(
        id=offer.id,
        case_id=offer.case_id,
        type=offer.type,
        amount=offer.amount,
        currency=offer.currency,
        note=offer.note,
        status=offer.status,
        proposed_by=Person(id=offer.proposed_by.id, name=offer.proposed_by.name),
        decided_by=Person(id=decided_by.id, name=decided_by.name) if decided_by else None,
        decided_at=offer.decided_at,
        decision_note=offer.decision_note,
        approval_due_at=offer.approval_due_at,
        created_at=offer.created_at,
    )


def _case(ctx: Ctx, case_id: str, *, for_update: bool = False) -> Case:
    try:
        return case_repository.get(ctx.session, case_id, for_update=for_update)
    except NotFound as exc:
        raise NotFound(exc.message, field="case_id") from exc


@router.post("/cases/{case_id}/offers", status_code=201, response_model=OfferOut)
def propose(case_id: str, body: OfferIn, ctx: ApiContext) -> OfferOut:
    """Applied at once within the caller's authority; otherwise `pending_approval`."""
    case = policies.require_can_propose(ctx.session, ctx.actor, _case(ctx, case_id, for_update=True))
    offer = service.propose(
        ctx.session,
        case=case,
        offer_type=body.type,
        amount=body.amount,
        currency=body.currency,
        note=body.note,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return offer_out(offer)


@router.get("/cases/{case_id}/offers", response_model=Page[OfferOut])
def list_for_case(case_id: str, ctx: ApiContext) -> Page[OfferOut]:
    case = case_policies.require_can_view(ctx.actor, _case(ctx, case_id))
    return Page[OfferOut](
        items=[offer_out(o) for o in repository.for_case(ctx.session, case.id)], next_cursor=None
    )


@router.get("/offers", response_model=Page[OfferOut])
def approvals_queue(
    ctx: ApiContext,
    status: OfferStatus = OfferStatus.pending_approval,
    limit: int = DEFAULT_LIMIT,
    cursor: PageCursor | None = None,
) -> Page[OfferOut]:
    """The caller's approvals queue, oldest first: for a supervisor the pending offers they may
    decide, for an admin all of them (except their own). Decided offers are listed per case."""
    if status != OfferStatus.pending_approval:
        raise InvalidInput(
            "only pending_approval offers are listed here; see /cases/{id}/offers for the others",
            field="status",
        )
    rows = repository.decidable(ctx.session, actor=ctx.actor, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda o: o.id)
    return Page[OfferOut](items=[offer_out(o) for o in items], next_cursor=next_cursor)


@router.get("/offers/{offer_id}", response_model=OfferOut)
def get(offer_id: str, ctx: ApiContext) -> OfferOut:
    offer = repository.get(ctx.session, offer_id)
    case_policies.require_can_view(ctx.actor, case_repository.get(ctx.session, offer.case_id))
    return offer_out(offer)


def _decidable(ctx: Ctx, offer_id: str) -> tuple[Offer, Case]:
    return service.lock_for_decision(ctx.session, offer_id=offer_id, actor=ctx.actor)


@router.post("/offers/{offer_id}/approve", response_model=OfferOut)
def approve(offer_id: str, ctx: ApiContext, body: ApproveIn | None = None) -> OfferOut:
    offer, case = _decidable(ctx, offer_id)
    service.approve(
        ctx.session,
        offer=offer,
        case=case,
        note=body.note if body else None,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return offer_out(offer)


@router.post("/offers/{offer_id}/reject", response_model=OfferOut)
def reject(offer_id: str, ctx: ApiContext, body: RejectIn | None = None) -> OfferOut:
    if body is None:  # an empty request names the missing note, like an empty JSON object does
        raise InvalidInput("a rejection needs a note", field="note")
    offer, case = _decidable(ctx, offer_id)
    service.reject(
        ctx.session,
        offer=offer,
        case=case,
        note=body.note,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return offer_out(offer)
