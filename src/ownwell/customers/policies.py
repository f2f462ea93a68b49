"""Who may change a customer's record, take their data out of the system or erase it. Routes
call these; they never compare ids inline (docs/security.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.customers.models import Customer
from ownwell.errors import Conflict, Forbidden
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


def require_can_export(actor: Staff) -> Staff:
    """A customer's whole record (GDPR art. 15/20) leaves with a supervisor or an admin, who
    answer the customer's request; agents see what their work needs on the pages."""
    if actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden("only a supervisor or an admin may export a customer's data")
    return actor


def require_can_erase(actor: Staff) -> Staff:
    """Erasure cannot be undone: admins only."""
    if actor.role != Role.admin:
        raise Forbidden("only an admin may erase a customer's personal data")
    return actor


def require_not_erased(customer: Customer) -> Customer:
    """An erased record takes no new personal data: a returning person is a new customer."""
    if customer.erased_at is not None:
        raise Conflict(
            "this customer's personal data was erased; record a returning person as a new customer",
            field="customer_id",
        )
    return customer
