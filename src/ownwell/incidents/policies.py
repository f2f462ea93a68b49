"""Who may run an incident. Routes call these; they never compare roles inline."""

from __future__ import annotations

from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_incident_manager(actor: Staff, action: str) -> Staff:
    """An incident speaks to thousands of customers at once: supervisors and admins only."""
    if actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden(f"only a supervisor or admin may {action}")
    return actor
