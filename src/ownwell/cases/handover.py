"""A staff member leaves (deactivation): their sessions and tokens end, and every open case
of theirs is handed on by `transfer_case` to someone the usual routing picks, with a hand-off
note saying why; the promises they still owe go with the cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import lifecycle
from ownwell.cases import repository as case_repository
from ownwell.cases.models import Case
from ownwell.commitments import repository as commitment_repository
from ownwell.commitments import service as commitment_service
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.errors import Conflict
from ownwell.staff import repository as staff_repository
from ownwell.staff import service as staff_service
from ownwell.staff.models import Role, Staff
from ownwell.web.session import end_sessions_of


@dataclass(frozen=True)
class Deactivated:
    tokens_revoked: int
    sessions_ended: int
    cases_handed_on: int


def deactivate(
    session: Session, *, staff: Staff, actor: Staff | None, now: datetime, settings: Settings
) -> Deactivated:
    """All in the caller's transaction: if any case finds nobody to take it, nothing changes
    (a case is never left without an owner)."""
    if actor is not None and actor.id == staff.id:
        raise Conflict("you cannot deactivate yourself; ask another admin", field="active")
    tokens = staff_service.set_active(session, staff=staff, active=False, now=now, by=actor)
    sessions = end_sessions_of(session, staff_id=staff.id)
    by = f" by {actor.name}" if actor is not None else ""
    reason = f"{staff.name} was deactivated{by} on {now:%Y-%m-%d}; the case is handed on."
    cases = case_repository.active_cases_owned_by(session, staff.id)
    own_departments = [d.id for d in staff_repository.get_staff(session, staff.id).departments]
    for case in cases:
        to = _next_owner(session, case=case, leaver=staff, own_departments=own_departments)
        lifecycle.transfer_case(
            session, case=case, to=to, note=reason, actor=actor, now=now, settings=settings
        )
    # Promises they owe, on these cases or on others': the case's (new) owner keeps them.
    for commitment in commitment_repository.all_pending_for_owner(session, staff.id):
        owner = case_repository.get(session, commitment.case_id).owner
        commitment_service.hand_on(session, commitment=commitment, to=owner, reason=reason, now=now)
    session.refresh(staff, attribute_names=["open_case_count"])  # the transfers counted in SQL
    return Deactivated(tokens_revoked=tokens, sessions_ended=sessions, cases_handed_on=len(cases))


def _next_owner(session: Session, *, case: Case, leaver: Staff, own_departments: list[str]) -> Staff:
    """As routing picks for a new case, within the case's departments: a member of its
    attributed department, else of a department the leaver belongs to, else the customer's
    personal contact, else the least-loaded agent, else anyone on duty. The leaver is off duty
    already, so never picked."""
    departments = [case.caused_by_department_id] if case.caused_by_department_id else []
    departments += own_departments
    for department_id in dict.fromkeys(departments):
        member = staff_repository.least_loaded(session, department_id=department_id)
        if member is not None:
            return member
    customer = customer_repository.get(session, case.customer_id)
    if customer.personal_contact_id:
        contact = session.get(Staff, customer.personal_contact_id)
        if contact is not None and contact.on_duty:
            return contact
    for roles in ((Role.agent,), (Role.agent, Role.supervisor, Role.admin)):
        anyone = staff_repository.least_loaded(session, roles=roles)
        if anyone is not None:
            return anyone
    raise Conflict(
        f"nobody is on duty to take over {leaver.name}'s case {case.id}; put someone on duty first",
        code="no_owner_available",
    )
