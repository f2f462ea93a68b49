"""Who may change a case. Routes call these; they never compare ids inline."""

from __future__ import annotations

from ownwell.cases.models import Case
from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_owner_or_manager(actor: Staff, case: Case, action: str) -> Case:
    """The owner answers for the case; a supervisor or admin may step in."""
    if actor.id == case.owner_id or actor.role in (Role.supervisor, Role.admin):
        return case
    raise Forbidden(f"only the case owner or a supervisor may {action}")
