"""Who may change a case. Routes call these; they never compare ids inline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ownwell.cases import repository
from ownwell.cases.models import Case, Visibility
from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_owner_or_manager(session: Session, actor: Staff, case: Case, action: str) -> Case:
    """Every write on a case: its owner answers for it; a supervisor of one of the case's
    departments (the one it is attributed to, and every department of its owner) or an admin
    may step in. A supervisor of any other department counts as an agent here."""
    if actor.id == case.owner_id or actor.role == Role.admin:
        return case
    if actor.role == Role.supervisor and repository.is_member_of_case_departments(
        session, staff_id=actor.id, case=case
    ):
        return case
    raise Forbidden(f"only the case owner or a supervisor of its department may {action}")


def require_can_write(session: Session, actor: Staff, case: Case, visibility: Visibility) -> Case:
    """An internal note is open to every staff member (collaborators help without taking the
    case); anything the customer sees is a write on the case."""
    if visibility == Visibility.internal and actor.role in (Role.agent, Role.supervisor, Role.admin):
        return case
    return require_owner_or_manager(session, actor, case, "write to the customer")


def require_can_view(actor: Staff, case: Case) -> Case:
    """Every staff member may read every case, its timeline and the files on it: cases move
    between people and departments, and whoever picks one up must see all of it. Routes that
    show case content call this, so narrowing it later changes them all."""
    if actor.role in (Role.agent, Role.supervisor, Role.admin):
        return case
    raise Forbidden("only staff may see this case")
