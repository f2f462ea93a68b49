"""Who may take a customer's data out of the system or erase it (docs/security.md)."""

from __future__ import annotations

from ownwell.customers.models import Customer
from ownwell.errors import Conflict, Forbidden
from ownwell.staff.models import Role, Staff


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
