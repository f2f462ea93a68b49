"""Who may act on the outbox. Routes call these; they never compare roles inline."""

from __future__ import annotations

from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_can_retry(actor: Staff) -> Staff:
    """Sending a message again speaks to a customer once more: supervisors and admins only."""
    if actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden("only a supervisor or admin may send a message again")
    return actor
