"""Who may keep or move a promise."""

from __future__ import annotations

from ownwell.cases.models import Case
from ownwell.commitments.models import Commitment
from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_can_change(actor: Staff, commitment: Commitment, case: Case) -> Commitment:
    if actor.id in (commitment.owner_id, case.owner_id) or actor.role in (
        Role.supervisor,
        Role.admin,
    ):
        return commitment
    raise Forbidden("only the person who made this promise, the case owner or a supervisor may change it")
