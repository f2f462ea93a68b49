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


def require_can_view(actor: Staff, case: Case) -> Case:
    """Every staff member may read every case, its timeline and the files on it: cases move
    between people and departments, and whoever picks one up must see all of it. Routes that
    show case content call this, so narrowing it later changes them all."""
    if actor.role in (Role.agent, Role.supervisor, Role.admin):
        return case
    raise Forbidden("only staff may see this case")
