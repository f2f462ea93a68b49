"""Who may read the audit log: admins, who answer for settings, roles and data."""

from __future__ import annotations

from ownwell.staff.models import Staff
from ownwell.staff.policies import require_admin


def require_can_read(actor: Staff) -> Staff:
    return require_admin(actor, "read the audit log")
