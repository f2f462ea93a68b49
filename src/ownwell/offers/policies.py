"""Who may make an offer and who may decide one. Routes call these; they never compare ids."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ownwell.cases.models import Case
from ownwell.cases.policies import require_owner_or_manager
from ownwell.errors import Forbidden
from ownwell.offers.models import Offer
from ownwell.staff.models import Role, Staff


def require_can_propose(session: Session, actor: Staff, case: Case) -> Case:
    """The owner makes it right; a supervisor of the case's department or an admin may step in."""
    return require_owner_or_manager(session, actor, case, "make an offer on it")


def require_can_decide(
    actor: Staff,
    offer: Offer,
    *,
    actor_department_ids: Sequence[str],
    deciding_department_ids: Sequence[str],
) -> Offer:
    """A supervisor of the department that answers for the case, or an admin; never the
    person who proposed it (four eyes on everything above someone's own authority)."""
    if actor.id == offer.proposed_by_id:
        raise Forbidden("you proposed this offer; someone else must decide it")
    if actor.role == Role.admin:
        return offer
    if actor.role == Role.supervisor and set(actor_department_ids) & set(deciding_department_ids):
        return offer
    raise Forbidden("only a supervisor of the case's department or an admin may decide this offer")
