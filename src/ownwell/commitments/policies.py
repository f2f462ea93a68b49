"""Who may make, keep or move a promise."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ownwell.cases.models import Case
from ownwell.cases.policies import require_owner_or_manager
from ownwell.commitments.models import Commitment
from ownwell.staff.models import Staff


def require_can_make(session: Session, actor: Staff, case: Case) -> Case:
    """A promise to the customer is a write on the case."""
    return require_owner_or_manager(session, actor, case, "make a promise on it")


def require_can_change(session: Session, actor: Staff, commitment: Commitment, case: Case) -> Commitment:
    """The person who made the promise answers for it; otherwise it is a write on the case."""
    if actor.id != commitment.owner_id:
        require_owner_or_manager(session, actor, case, "change this promise")
    return commitment
