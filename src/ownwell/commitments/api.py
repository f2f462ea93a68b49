"""JSON routes for commitments."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.cases import repository as case_repository
from ownwell.commitments import policies, repository, service
from ownwell.commitments.models import Commitment
from ownwell.commitments.schemas import CommitmentIn, CommitmentOut, RenegotiateIn, RenegotiationOut
from ownwell.deps import ApiContext, Ctx

router = APIRouter(tags=["commitments"])


def commitment_out(ctx: Ctx, commitment: Commitment) -> CommitmentOut:
    history = repository.renegotiations(ctx.session, [commitment.id])
    return CommitmentOut(
        id=commitment.id,
        case_id=commitment.case_id,
        owner_id=commitment.owner_id,
        text=commitment.text,
        due_at=commitment.due_at,
        status=commitment.status,
        created_at=commitment.created_at,
        closed_at=commitment.closed_at,
        renegotiations=[
            RenegotiationOut(old_due_at=r.old_due_at, new_due_at=r.new_due_at, note=r.note, at=r.at)
            for r in history
        ],
    )


@router.post("/cases/{case_id}/commitments", status_code=201, response_model=CommitmentOut)
def make(case_id: str, body: CommitmentIn, ctx: ApiContext) -> CommitmentOut:
    case = case_repository.get(ctx.session, case_id, for_update=True)
    policies.require_can_make(ctx.session, ctx.actor, case)
    commitment = service.make_commitment(
        ctx.session,
        case=case,
        text=body.text,
        due_at=body.due_at,
        owner_id=body.owner_id,
        actor=ctx.actor,
        now=ctx.now,
        zone=ctx.settings.timezone,
    )
    return commitment_out(ctx, commitment)


@router.get("/cases/{case_id}/commitments", response_model=list[CommitmentOut])
def list_for_case(case_id: str, ctx: ApiContext) -> list[CommitmentOut]:
    case = case_repository.get(ctx.session, case_id)
    return [commitment_out(ctx, c) for c in repository.for_case(ctx.session, case.id)]


@router.get("/commitments/{commitment_id}", response_model=CommitmentOut)
def get(commitment_id: str, ctx: ApiContext) -> CommitmentOut:
    return commitment_out(ctx, repository.get(ctx.session, commitment_id))


@router.post("/commitments/{commitment_id}/keep", response_model=CommitmentOut)
def keep(commitment_id: str, ctx: ApiContext) -> CommitmentOut:
    commitment = repository.get(ctx.session, commitment_id, for_update=True)
    policies.require_can_change(
        ctx.session, ctx.actor, commitment, case_repository.get(ctx.session, commitment.case_id)
    )
    return commitment_out(ctx, service.keep(ctx.session, commitment=commitment, actor=ctx.actor, now=ctx.now))


@router.post("/commitments/{commitment_id}/renegotiate", response_model=CommitmentOut)
def renegotiate(commitment_id: str, body: RenegotiateIn, ctx: ApiContext) -> CommitmentOut:
    commitment = repository.get(ctx.session, commitment_id, for_update=True)
    policies.require_can_change(
        ctx.session, ctx.actor, commitment, case_repository.get(ctx.session, commitment.case_id)
    )
    service.renegotiate(
        ctx.session,
        commitment=commitment,
        due_at=body.due_at,
        note=body.note,
        actor=ctx.actor,
        now=ctx.now,
        zone=ctx.settings.timezone,
    )
    return commitment_out(ctx, commitment)
