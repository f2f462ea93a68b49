"""JSON route for what the customer said on their case page that staff act on: the latest
fair solution they proposed (P8), to weigh beside offers."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from ownwell.cases import policies
from ownwell.cases import repository as case_repository
from ownwell.deps import ApiContext
from ownwell.portal import repository

router = APIRouter(tags=["cases"])


class FairSolution(BaseModel):
    text: str
    at: datetime
    event_id: str


class FairSolutionOut(BaseModel):
    case_id: str
    # null until the customer says what they would consider fair.
    fair_solution: FairSolution | None


@router.get("/cases/{case_id}/fair-solution", response_model=FairSolutionOut)
def get_fair_solution(case_id: str, ctx: ApiContext) -> FairSolutionOut:
    case = policies.require_can_view(ctx.actor, case_repository.get(ctx.session, case_id))
    event = repository.latest_fair_solution(ctx.session, case.id)
    return FairSolutionOut(
        case_id=case.id,
        fair_solution=FairSolution(text=event.text, at=event.at, event_id=event.id) if event else None,
    )
