"""The forms of the case page. Each validates with the API's input shape, checks the same policy
and calls the same service function as the JSON route; a refused form shows the case page again
with the error beside the form (nothing of it is written: it runs in a savepoint)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ownwell.cases import lifecycle, policies, service
from ownwell.cases import repository as case_repository
from ownwell.cases.models import Case, Visibility
from ownwell.cases.schemas import CasePatch, MessageIn, ReopenIn, ResolveIn, TransferIn
from ownwell.cases.web import render_case
from ownwell.commitments import policies as commitment_policies
from ownwell.commitments import repository as commitment_repository
from ownwell.commitments import service as commitment_service
from ownwell.commitments.schemas import CommitmentIn, RenegotiateIn
from ownwell.errors import AppError, InvalidInput, NotFound
from ownwell.offers import policies as offer_policies
from ownwell.offers import service as offer_service
from ownwell.offers.models import OfferStatus
from ownwell.offers.schemas import ApproveIn, OfferIn, RejectIn
from ownwell.staff import repository as staff_repository
from ownwell.web.forms import local_moment, validate
from ownwell.web.session import StaffForm, WebCtx, safe_next

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=40_000)]
Short = Annotated[str, Form(max_length=200)]


def _act(
    ctx: WebCtx,
    case_id: str,
    *,
    form: str,
    anchor: str,
    values: dict[str, str],
    work: Callable[[Case], str],
) -> Response:
    """Run one form's change on the locked case. `work` returns the key of the done-message."""
    case = case_repository.get(ctx.session, case_id, for_update=True)  # unknown case: 404 page
    try:
        with ctx.session.begin_nested():
            done = work(case)
    except AppError as exc:
        failed = {"form": form, "field": exc.field, "message": exc.message}
        return render_case(ctx, case_id, failed=failed, values=values, status_code=exc.status_code)
    return RedirectResponse(f"/cases/{case_id}?done={done}#{anchor}", status_code=303)


@router.post("/cases/{case_id}/messages")
def message(
    case_id: str, ctx: StaffForm, body: Text = "", visibility: Short = "customer", wait: Short = ""
) -> Response:
    def work(case: Case) -> str:
        data = validate(MessageIn, {"body": body, "visibility": visibility, "wait_for_customer": bool(wait)})
        policies.require_can_write(ctx.session, ctx.actor, case, data.visibility)
        service.add_message(
            ctx.session,
            case=case,
            body=data.body,
            visibility=data.visibility,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
            wait_for_customer=data.wait_for_customer,
        )
        return "reply" if data.visibility == Visibility.customer else "note"

    return _act(ctx, case_id, form="message", anchor="timeline", values={"body": body}, work=work)


@router.post("/cases/{case_id}/commitments")
def make_commitment(case_id: str, ctx: StaffForm, text: Text = "", due_at: Short = "") -> Response:
    def work(case: Case) -> str:
        commitment_policies.require_can_make(ctx.session, ctx.actor, case)
        due = local_moment(due_at, ctx.settings.timezone, field="due_at")
        data = validate(CommitmentIn, {"text": text, "due_at": due})
        commitment_service.make_commitment(
            ctx.session,
            case=case,
            text=data.text,
            due_at=data.due_at,
            owner_id=None,
            actor=ctx.actor,
            now=ctx.now,
            zone=ctx.settings.timezone,
        )
        return "commitment"

    values = {"text": text, "due_at": due_at}
    return _act(ctx, case_id, form="commitment", anchor="commitments", values=values, work=work)


@router.post("/commitments/{commitment_id}/keep")
def keep_commitment(
    commitment_id: str, ctx: StaffForm, next: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    """From My day (comes back there) or the case page."""
    commitment = commitment_repository.get(ctx.session, commitment_id, for_update=True)
    case = case_repository.get(ctx.session, commitment.case_id)
    commitment_policies.require_can_change(ctx.session, ctx.actor, commitment, case)
    commitment_service.keep(ctx.session, commitment=commitment, actor=ctx.actor, now=ctx.now)
    target = safe_next(next) if next else f"/cases/{case.id}?done=kept#commitments"
    return RedirectResponse(target, status_code=303)


@router.post("/cases/{case_id}/commitments/{commitment_id}/renegotiate")
def renegotiate(
    case_id: str, commitment_id: str, ctx: StaffForm, due_at: Short = "", note: Text = ""
) -> Response:
    def work(case: Case) -> str:
        commitment = commitment_repository.get(ctx.session, commitment_id, for_update=True)
        if commitment.case_id != case.id:
            raise NotFound(f"no commitment {commitment_id!r} on this case")
        commitment_policies.require_can_change(ctx.session, ctx.actor, commitment, case)
        due = local_moment(due_at, ctx.settings.timezone, field="due_at")
        data = validate(RenegotiateIn, {"due_at": due, "note": note})
        commitment_service.renegotiate(
            ctx.session,
            commitment=commitment,
            due_at=data.due_at,
            note=data.note,
            actor=ctx.actor,
            now=ctx.now,
            zone=ctx.settings.timezone,
        )
        return "renegotiated"

    values = {"due_at": due_at, "note": note}
    form = f"renegotiate-{commitment_id}"
    return _act(ctx, case_id, form=form, anchor="commitments", values=values, work=work)


@router.post("/cases/{case_id}/transfer")
def transfer(case_id: str, ctx: StaffForm, to_staff_id: Short = "", handoff_note: Text = "") -> Response:
    def work(case: Case) -> str:
        policies.require_owner_or_manager(ctx.session, ctx.actor, case, "transfer it")
        data = validate(TransferIn, {"to_staff_id": to_staff_id, "handoff_note": handoff_note})
        try:
            to = staff_repository.get_staff(ctx.session, data.to_staff_id)
        except NotFound as exc:
            raise InvalidInput("please choose who takes the case over", field="to_staff_id") from exc
        lifecycle.transfer_case(
            ctx.session,
            case=case,
            to=to,
            note=data.handoff_note,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
        return "transferred"

    values = {"to_staff_id": to_staff_id, "handoff_note": handoff_note}
    return _act(ctx, case_id, form="transfer", anchor="top", values=values, work=work)


@router.post("/cases/{case_id}/attribute")
def attribute(case_id: str, ctx: StaffForm, caused_by_department_id: Short = "") -> Response:
    def work(case: Case) -> str:
        policies.require_owner_or_manager(ctx.session, ctx.actor, case, "change it")
        data = validate(CasePatch, {"caused_by_department_id": caused_by_department_id or None})
        service.update_case(ctx.session, case=case, patch=data, actor=ctx.actor, now=ctx.now)
        return "attributed"

    values = {"caused_by_department_id": caused_by_department_id}
    return _act(ctx, case_id, form="attribute", anchor="top", values=values, work=work)


@router.post("/cases/{case_id}/resolve")
def resolve(case_id: str, ctx: StaffForm, summary: Text = "", next_issue_tip: Text = "") -> Response:
    def work(case: Case) -> str:
        policies.require_owner_or_manager(ctx.session, ctx.actor, case, "resolve it")
        data = validate(ResolveIn, {"summary": summary, "next_issue_tip": next_issue_tip.strip() or None})
        lifecycle.resolve_case(
            ctx.session,
            case=case,
            summary=data.summary,
            tip=data.next_issue_tip,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
        return "resolved"

    values = {"summary": summary, "next_issue_tip": next_issue_tip}
    return _act(ctx, case_id, form="resolve", anchor="top", values=values, work=work)


@router.post("/cases/{case_id}/reopen")
def reopen(case_id: str, ctx: StaffForm, reason: Text = "") -> Response:
    def work(case: Case) -> str:
        policies.require_owner_or_manager(ctx.session, ctx.actor, case, "reopen it")
        data = validate(ReopenIn, {"reason": reason})
        lifecycle.reopen_case(
            ctx.session, case=case, reason=data.reason, actor=ctx.actor, now=ctx.now, settings=ctx.settings
        )
        return "reopened"

    return _act(ctx, case_id, form="reopen", anchor="top", values={"reason": reason}, work=work)


@router.post("/cases/{case_id}/offers")
def propose_offer(
    case_id: str, ctx: StaffForm, type: Short = "", amount: Short = "", currency: Short = "", note: Text = ""
) -> Response:
    def work(case: Case) -> str:
        offer_policies.require_can_propose(ctx.session, ctx.actor, case)
        data = validate(
            OfferIn,
            {
                "type": type,
                "amount": amount.strip().replace(",", "."),
                "currency": currency.strip(),
                "note": note,
            },
        )
        offer = offer_service.propose(
            ctx.session,
            case=case,
            offer_type=data.type,
            amount=data.amount,
            currency=data.currency,
            note=data.note,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
        return "offer_applied" if offer.status == OfferStatus.approved else "offer_pending"

    values = {"type": type, "amount": amount, "currency": currency, "note": note}
    return _act(ctx, case_id, form="offer", anchor="offers", values=values, work=work)


def _decide(ctx: WebCtx, case: Case, offer_id: str):  # type: ignore[no-untyped-def]
    offer, _ = offer_service.lock_for_decision(ctx.session, offer_id=offer_id, actor=ctx.actor, case=case)
    return offer


@router.post("/cases/{case_id}/offers/{offer_id}/approve")
def approve_offer(case_id: str, offer_id: str, ctx: StaffForm, note: Text = "") -> Response:
    def work(case: Case) -> str:
        offer = _decide(ctx, case, offer_id)
        data = validate(ApproveIn, {"note": note.strip() or None})
        offer_service.approve(
            ctx.session,
            offer=offer,
            case=case,
            note=data.note,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
        return "approved"

    return _act(ctx, case_id, form=f"decide-{offer_id}", anchor="offers", values={"note": note}, work=work)


@router.post("/cases/{case_id}/offers/{offer_id}/reject")
def reject_offer(case_id: str, offer_id: str, ctx: StaffForm, note: Text = "") -> Response:
    def work(case: Case) -> str:
        offer = _decide(ctx, case, offer_id)
        data = validate(RejectIn, {"note": note})
        offer_service.reject(
            ctx.session,
            offer=offer,
            case=case,
            note=data.note,
            actor=ctx.actor,
            now=ctx.now,
            settings=ctx.settings,
        )
        return "rejected"

    return _act(ctx, case_id, form=f"decide-{offer_id}", anchor="offers", values={"note": note}, work=work)
