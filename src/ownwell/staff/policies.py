"""Who may manage departments and staff."""

from __future__ import annotations

from collections.abc import Iterable

from ownwell.errors import Forbidden
from ownwell.staff.models import Role, Staff, TokenScope


def require_admin(actor: Staff, action: str) -> Staff:
    if actor.role != Role.admin:
        raise Forbidden(f"only an admin may {action}")
    return actor


def require_manager(actor: Staff, action: str) -> Staff:
    if actor.role not in (Role.supervisor, Role.admin):
        raise Forbidden(f"only a supervisor or admin may {action}")
    return actor


# What an integrator token (a shop, a channel gateway) may call: (method, route template
# under /api/v1). Everything else answers 403 naming the scope. `POST /cases/{case_id}/messages`
# is on the list for `from_customer: true` only (require_customer_voice); `GET /customers` only
# to look a customer up by `identifier`.
INTEGRATOR_CALLS = frozenset(
    {
        ("POST", "/orders"),
        ("GET", "/orders"),
        ("GET", "/orders/{order_id}"),
        ("POST", "/orders/{order_id}/events"),
        ("POST", "/order-events"),
        ("POST", "/cases"),
        ("POST", "/cases/{case_id}/messages"),
        ("GET", "/customers"),
        ("POST", "/customers"),
        ("POST", "/incidents/{incident_id}/replies"),
    }
)
_NEEDS_QUERY = {("GET", "/customers"): "identifier"}


def require_scope_allows(scope: TokenScope, *, method: str, route: str, query: Iterable[str]) -> None:
    """A token's scope against the call it makes (`route`: the matched route's template
    without the /api/v1 prefix). A staff token may call anything (its role decides after)."""
    if scope == TokenScope.staff:
        return
    call = (method.upper(), route)
    needed = _NEEDS_QUERY.get(call)
    if call not in INTEGRATOR_CALLS or (needed is not None and needed not in query):
        raise Forbidden(f"an {scope} token may not call {method.upper()} {route}")


def require_customer_voice(scope: TokenScope, *, from_customer: bool) -> None:
    """Words marked as the customer's come only from an integrator token (a channel speaking
    for the customer); staff tokens of every role are refused, and an integrator token may post
    nothing else on a case."""
    if from_customer and scope != TokenScope.integrator:
        raise Forbidden(
            "only an integrator token may post a message from the customer", field="from_customer"
        )
    if not from_customer and scope == TokenScope.integrator:
        raise Forbidden(
            f"an {scope} token may only post a customer's own words (from_customer: true)",
            field="from_customer",
        )


def require_token_access(actor: Staff, staff: Staff, action: str) -> Staff:
    """A person's API tokens: they themselves or an admin may list and revoke them."""
    if actor.id != staff.id and actor.role != Role.admin:
        raise Forbidden(f"only {staff.name} or an admin may {action}")
    return actor
