"""Every query of the customers domain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from sqlalchemy.orm.util import identity_key

from ownwell.customers.models import Customer, CustomerFact, CustomerIdentifier, IdentifierKind
from ownwell.db import grouped, shared_scratch
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id

Key = tuple[str, str, str]  # (kind, system, value)


def get(session: Session, customer_id: str, *, field: str | None = None) -> Customer:
    customer = None
    if grouped(session) and (at_hand := shared_scratch(session).get(_AT_HAND, {}).get(customer_id)):
        return at_hand  # type: ignore[no-any-return]  # read with the block's first look-up, or new in it
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
    """Which customer holds each identifier, for those that anyone holds.

    In a shared block (db.shared_writes) the first look-up also reads every identifier the
    block's other commands said they would ask about (`expect_identifiers`): one statement
    reads their holders with all their identifiers, so a block of many intakes costs one
    statement, not two each."""
    keys = list(keys)
    if not keys:
        return {}
    if not grouped(session):
        return _read_owners(session, keys)
    scratch = shared_scratch(session)
    known: dict[Key, str | None] = scratch.setdefault(_KNOWN_OWNERS, {})
    if any(key not in known for key in keys):
        wanted = {*keys, *scratch.pop(_EXPECTED_KEYS, ())} - known.keys()
        held = _read_holders(session, wanted)
        known.update({key: held.get(key) for key in wanted})
    return {key: owner for key in keys if (owner := known[key]) is not None}


def expect_identifiers(session: Session, keys: Iterable[Key]) -> None:
    """In a shared block: these identifiers will be looked up; read them with the first."""
    if grouped(session):
        shared_scratch(session).setdefault(_EXPECTED_KEYS, set()).update(keys)


def note_owner(session: Session, keys: Iterable[Key], customer: Customer) -> None:
    """In a shared block: these identifiers now belong to the customer (whose rows may not be
    written yet), so a later command of the block lands there instead of clashing at the end."""
    if grouped(session):
        scratch = shared_scratch(session)
        scratch.setdefault(_KNOWN_OWNERS, {}).update(dict.fromkeys(keys, customer.id))
        scratch.setdefault(_AT_HAND, {})[customer.id] = customer


_KNOWN_OWNERS = "customers.known_owners"
_AT_HAND = "customers.at_hand"  # read or created in this shared block, by id
_EXPECTED_KEYS = "customers.expected_keys"


def _read_owners(session: Session, keys: list[Key]) -> dict[Key, str]:
    rows = session.execute(_OWNERS_OF, {"keys": keys}).all()
    return {(r.kind, r.system, r.value): r.customer_id for r in rows}


def _read_holders(session: Session, keys: set[Key]) -> dict[Key, str]:
    """Which customer holds each of these identifiers, from one statement that reads the
    holders with all their identifiers; they are kept at hand for `get` (the session's identity
    map alone would let them go: it holds objects weakly). Who holds what comes from the rows
    read now, not from a holder's identifiers as this session may have read them earlier."""
    at_hand: dict[str, Customer] = shared_scratch(session).setdefault(_AT_HAND, {})
    held: dict[Key, str] = {}
    rows = session.execute(_HOLDERS_WITH_IDENTIFIERS, {"keys": list(keys)}).unique()
    for customer, kind, system, value in rows:
        at_hand.setdefault(customer.id, customer)
        held[(kind, system, value)] = customer.id
    return held


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
_HELD = aliased(CustomerIdentifier)
_HOLDERS_WITH_IDENTIFIERS = (
    select(Customer, _HELD.kind, _HELD.system, _HELD.value)
    .join(_HELD, _HELD.customer_id == Customer.id)
    .where(tuple_(_HELD.kind, _HELD.system, _HELD.value).in_(bindparam("keys", expanding=True)))
    .options(joinedload(Customer.identifiers))
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
