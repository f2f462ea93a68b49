"""Who may manage departments and staff."""

from __future__ import annotations

from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_admin(actor: Staff, action: str) -> Staff:
    if actor.role != Role.admin:
        raise Forbidden(f"only an admin may {action}")
    return actor


def require_manager(actor: Staff, action: str) -> Staff:
    if actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden(f"only a supervisor or admin may {action}")
    return actor
