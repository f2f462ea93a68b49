"""Who may see or change recurring issues."""

from __future__ import annotations

from ownwell.errors import Forbidden
from ownwell.insights.models import PreventionAction
from ownwell.staff.models import Role, Staff


def require_can_curate(actor: Staff, action: str) -> Staff:
    """Merging, splitting and naming root causes shape what every department is measured on: the
    supervisors' call, not a single agent's."""
    if actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden(f"only a supervisor or admin may {action} recurring issues")
    return actor


def require_can_complete(actor: Staff, action: PreventionAction) -> Staff:
    """The owner answers for the action; a supervisor or admin may close it on their behalf."""
    if actor.id != action.owner_id and actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden("only the owner, a supervisor or an admin may mark a prevention action done")
    return actor
