"""Who may change what on a customer's record. Routes call these; they never compare ids inline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.customers.models import Customer
from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff


def require_can_change_identifiers(session: Session, actor: Staff, customer: Customer) -> Customer:
    """E-mail addresses, phones and external ids decide where the customer's mail and portal
    links go: the owner of one of their open cases, their personal contact, any supervisor or
    an admin may change them."""
    if actor.role in (Role.supervisor, Role.admin) or actor.id == customer.personal_contact_id:
        return customer
    if case_repository.owns_active_case_of(session, staff_id=actor.id, customer_id=customer.id):
        return customer
    raise Forbidden(
        "only the owner of one of this customer's open cases, their personal contact or a supervisor "
        "may change their e-mail addresses, phones or external ids"
    )
