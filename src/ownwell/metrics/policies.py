"""Who may read the metrics: admins everything; a supervisor the departments they belong to."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ownwell.errors import Forbidden
from ownwell.metrics import repository
from ownwell.staff.models import Role, Staff


def readable_department_ids(session: Session, actor: Staff) -> set[str] | None:
    """The departments whose figures this person may read (the rule of `require_can_read`, for
    pages that show many departments at once): None for all of them (an admin)."""
    if actor.role == Role.admin:
        return None
    if actor.role != Role.supervisor:
        return set()
    return set(repository.department_ids_of(session, actor.id))


def require_can_read(session: Session, actor: Staff, department_id: str | None) -> None:
    if actor.role == Role.admin:
        return
    if actor.role != Role.supervisor:
        raise Forbidden("only supervisors and admins may read the metrics")
    if department_id is None:
        # Organisation-wide figures include other departments' customers and staff.
        raise Forbidden(
            "a supervisor reads the metrics of their own department; give department_id",
            field="department_id",
        )
    if department_id not in repository.department_ids_of(session, actor.id):
        raise Forbidden("you supervise other departments than this one", field="department_id")
