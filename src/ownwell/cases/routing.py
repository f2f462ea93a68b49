"""Who owns a new case: P2 first (the department that caused it), then the personal contact."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.orm import Session

from ownwell.customers.models import Customer
from ownwell.errors import Conflict
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Role, Staff
from ownwell.staff.service import adjust_open_cases


class RoutedBy(StrEnum):
    department = "department"
    personal_contact = "personal_contact"
    least_loaded = "least_loaded"
    assigned = "assigned"


def expect_owner(session: Session, *, department_id: str | None) -> None:
    """A command of a shared block will route a case: read its likely candidates with the
    block's first pick (the department's members, else the agents)."""
    if department_id:
        staff_repository.expect_claim(session, department_id=department_id)
    else:
        staff_repository.expect_claim(session, roles=(Role.agent,))


def claim_owner(session: Session, *, department_id: str | None, customer: Customer) -> tuple[Staff, RoutedBy]:
    """An on-duty member of the causing department (fewest open cases first), else the
    customer's personal contact when on duty, else the least-loaded agent (else anyone on duty),
    with the new case already counted against the owner's open cases (so the caller does not
    adjust the counter): one statement on the usual paths."""
    if department_id:
        member = staff_repository.claim_least_loaded(session, department_id=department_id)
        if member is not None:
            return member, RoutedBy.department
    if customer.personal_contact_id:
        contact = session.get(Staff, customer.personal_contact_id)
        if contact is not None and contact.on_duty:
            adjust_open_cases(session, contact.id, 1)
            return contact, RoutedBy.personal_contact
    for roles in ((Role.agent,), (Role.agent, Role.supervisor, Role.admin)):
        agent = staff_repository.claim_least_loaded(session, roles=roles)
        if agent is not None:
            return agent, RoutedBy.least_loaded
    raise Conflict(
        "nobody is on duty to own this case; add a staff member or put one on duty",
        code="no_owner_available",
    )
