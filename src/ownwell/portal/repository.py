"""Every query of the portal domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ownwell.cases.models import Case, CaseEvent

FAIR_SOLUTION = "fair_solution"


def latest_fair_solution(session: Session, case_id: str) -> CaseEvent | None:
    """What the customer last said would be a fair solution (P8), for the owner to weigh beside
    the offers; None when they have not said."""
    return session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind == FAIR_SOLUTION)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    ).first()


def recent_cases(session: Session, customer_id: str, *, limit: int) -> Sequence[Case]:
    """The customer's newest cases, whatever their status: the ones a fresh link should reach."""
    return session.scalars(
        select(Case)
        .options(joinedload(Case.owner))
        .where(Case.customer_id == customer_id)
        .order_by(Case.id.desc())
        .limit(limit)
    ).all()
