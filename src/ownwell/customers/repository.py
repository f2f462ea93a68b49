"""Every query of the customers domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.util import identity_key

from ownwell.customers.models import Customer, CustomerFact, CustomerIdentifier, IdentifierKind
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id

Key = tuple[str, str, str]  # (kind, system, value)


def get(session: Session, customer_id: str, *, field: str | None = None) -> Customer:
    customer = None
    if looks_like_id("cus", customer_id):
        # Already read in this transaction (an order's case, then its resolution, say): a new
        # SELECT would hand back the very same object, so skip the round trip.
        known = session.identity_map.get(identity_key(Customer, customer_id))
        if known is not None and "identifiers" in known.__dict__:
            return known  # type: ignore[no-any-return]
        # One statement with its identifiers (a returning customer's case reads them at once).
        customer = session.scalars(_CUSTOMER_WITH_IDENTIFIERS, {"id": customer_id}).unique().one_or_none()
    if customer is None:
        raise NotFound(f"no customer with id {customer_id!r}", field=field)
    return customer


def owners_of(session: Session, keys: Iterable[Key]) -> dict[Key, str]:
    """Which customer holds each identifier, for those that anyone holds."""
    keys = list(keys)
    if not keys:
        return {}
    rows = session.execute(_OWNERS_OF, {"keys": keys}).all()
    return {(r.kind, r.system, r.value): r.customer_id for r in rows}


# Every case from a customer runs these; built once, since building cost more than running.
_CUSTOMER_WITH_IDENTIFIERS = (
    select(Customer).where(Customer.id == bindparam("id")).options(joinedload(Customer.identifiers))
)
_OWNERS_OF = select(
    CustomerIdentifier.kind,
    CustomerIdentifier.system,
    CustomerIdentifier.value,
    CustomerIdentifier.customer_id,
).where(
    tuple_(CustomerIdentifier.kind, CustomerIdentifier.system, CustomerIdentifier.value).in_(
        bindparam("keys", expanding=True)
    )
)


def find_by_identifier(session: Session, key: Key) -> Customer | None:
    customer_id = session.scalar(
        select(CustomerIdentifier.customer_id).where(
            CustomerIdentifier.kind == key[0],
            CustomerIdentifier.system == key[1],
            CustomerIdentifier.value == key[2],
        )
    )
    return get(session, customer_id) if customer_id else None


def find_external_any_system(session: Session, value: str) -> Sequence[str]:
    return session.scalars(
        select(CustomerIdentifier.customer_id).where(
            CustomerIdentifier.kind == IdentifierKind.external, CustomerIdentifier.value == value
        )
    ).all()


def list_page(session: Session, *, limit: int, cursor: str | None) -> Sequence[Customer]:
    from ownwell.kit.pagination import paginate_desc

    stmt = paginate_desc(
        select(Customer).options(selectinload(Customer.identifiers)),
        Customer.id,
        limit=limit,
        cursor=cursor,
    )
    return session.scalars(stmt).all()


def facts(session: Session, customer_id: str) -> Sequence[CustomerFact]:
    return session.scalars(
        select(CustomerFact)
        .where(CustomerFact.customer_id == customer_id)
        .order_by(CustomerFact.created_at.desc(), CustomerFact.id.desc())
        .limit(100)
    ).all()
