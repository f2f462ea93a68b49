"""The only writers of the customers domain. They flush, never commit."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.cases import timeline
from ownwell.cases.models import Visibility
from ownwell.config import Settings
from ownwell.customers import policies, repository, rules
from ownwell.customers.models import (
    Channel,
    Customer,
    CustomerFact,
    CustomerIdentifier,
    IdentifierKind,
)
from ownwell.customers.schemas import CustomerIn, CustomerPatch, PreferencesIn
from ownwell.db import grouped, insert_new, insert_pending, lone_request, writers_serialised
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.notifications import render
from ownwell.notifications.outbox import enqueue
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff

Key = repository.Key


def identifier_keys(data: CustomerIn | CustomerPatch) -> list[tuple[str, Key]]:
    """(field path, identifier key) for every identifier in the input, in input order."""
    keys: list[tuple[str, Key]] = []
    for i, email in enumerate(data.emails or []):
        keys.append((f"emails.{i}", (IdentifierKind.email, "", email)))
    for i, phone in enumerate(data.phones or []):
        keys.append((f"phones.{i}", (IdentifierKind.phone, "", phone)))
    for system, value in (data.external_ids or {}).items():
        keys.append((f"external_ids.{system}", (IdentifierKind.external, system, value)))
    return keys


def _apply_preferences(customer: Customer, prefs: PreferencesIn | None) -> None:
    if prefs is None:
        return
    given = prefs.model_fields_set
    if "channel" in given and prefs.channel is not None:
        customer.preferred_channel = prefs.channel
    if "quiet_hours" in given:
        customer.quiet_start = prefs.quiet_hours.start if prefs.quiet_hours else None
        customer.quiet_end = prefs.quiet_hours.end if prefs.quiet_hours else None
    if "timezone" in given and prefs.timezone is not None:
        customer.timezone = prefs.timezone
    if "language" in given:
        customer.language = prefs.language
    if "topics" in given:
        customer.topics = list(dict.fromkeys(prefs.topics or []))
    if "do_not_contact" in given and prefs.do_not_contact is not None:
        customer.do_not_contact = prefs.do_not_contact


def _personal_contact(session: Session, staff_id: str | None, field: str) -> str | None:
    if staff_id is None:
        return None
    try:
        return staff_repository.get_staff(session, staff_id).id
    except NotFound as exc:
        raise InvalidInput(exc.message, field=field) from exc


def _check_free(session: Session, keys: list[tuple[str, Key]], *, owner_id: str | None, prefix: str) -> None:
    held = repository.owners_of(session, [k for _, k in keys])
    for path, key in keys:
        holder = held.get(key)
        if holder is not None and holder != owner_id:
            raise Conflict(f"{key[2]} already belongs to customer {holder}", field=prefix + path)


def create_customer(
    session: Session,
    *,
    data: CustomerIn,
    now: datetime,
    default_timezone: str,
    prefix: str = "",
    checked: bool = False,
) -> Customer:
    """`checked`: the caller has just looked every identifier up and found none taken."""
    keys = identifier_keys(data)
    if not checked:
        _check_free(session, keys, owner_id=None, prefix=prefix)
    customer = Customer(
        id=new_id("cus"),
        name=(data.name or "").strip() or rules.default_name(data.emails, data.phones),
        personal_contact_id=_personal_contact(
            session, data.personal_contact_id, prefix + "personal_contact_id"
        ),
        preferred_channel=Channel.email,
        timezone=default_timezone,
        topics=[],
        do_not_contact=False,
        created_at=now,
        updated_at=now,
    )
    _apply_preferences(customer, data.preferences)
    customer.identifiers = [
        CustomerIdentifier(id=new_id("cid"), customer_id=customer.id, kind=k[0], system=k[1], value=k[2])
        for k in dict.fromkeys(key for _, key in keys)
    ]
    session.add(customer)
    insert_new(session)
    return customer


def expect_customer(session: Session, data: CustomerIn) -> None:
    """A command of a shared block will recognise this customer: look them up with the rest."""
    repository.expect_identifiers(session, [key for _, key in identifier_keys(data)])


def recognise_or_create(
    session: Session, *, data: CustomerIn, now: datetime, default_timezone: str, prefix: str
) -> Customer:
    """The customer holding any of these identifiers, taught the new ones; else a new customer.

    Concurrent first contacts from the same address race on the unique identifier; the loser
    retries inside a savepoint and lands on the winner's customer.
    """
    keys = identifier_keys(data)
    if not keys:
        raise InvalidInput("give at least one e-mail, phone or external id", field=prefix + "emails")
    # SQLite writers hold the database lock from their first statement, so nobody can slip in
    # between the look-up and the insert; elsewhere the insert may lose a race and is retried
    # (in a shared transaction, by redoing the request alone: see kit.group_commit).
    may_race = not writers_serialised(session) and not grouped(session)
    for _attempt in range(3):
        held = repository.owners_of(session, [k for _, k in keys])
        holder = next((held[k] for _, k in keys if k in held), None)
        if holder is not None:
            customer = repository.get(session, holder)
            fresh = [k for _, k in keys if k not in held]
            if not fresh:  # the usual returning customer: nothing to write
                return customer
        try:
            with session.begin_nested() if may_race else contextlib.nullcontext():
                if holder is None:
                    customer = create_customer(
                        session,
                        data=data,
                        now=now,
                        default_timezone=default_timezone,
                        prefix=prefix,
                        checked=True,
                    )
                    if lone_request(session):
                        # Its rows go in now, before routing locks a member's row: the order
                        # every other first contact keeps, so no two wait on each other.
                        insert_pending(session)
                    fresh = [k for _, k in keys]
                else:
                    for key in dict.fromkeys(fresh):
                        customer.identifiers.append(
                            CustomerIdentifier(id=new_id("cid"), kind=key[0], system=key[1], value=key[2])
                        )
                    session.flush()
            repository.note_owner(session, fresh, customer)
            return customer
        except IntegrityError:
            if not may_race:
                raise
            continue
    raise Conflict("this customer is being created by another request; try again", field=prefix + "emails")


def update_customer(
    session: Session,
    *,
    customer: Customer,
    patch: CustomerPatch,
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> Customer:
    """Changes the record; a change of identifiers is written down with its actor, old and new
    (on the customer's cases' timelines), and every e-mail address on file before is told."""
    policies.require_not_erased(customer)
    given = patch.model_fields_set
    if "name" in given and patch.name is not None:
        customer.name = patch.name.strip()
    if "personal_contact_id" in given:
        customer.personal_contact_id = _personal_contact(
            session, patch.personal_contact_id, "personal_contact_id"
        )
    _apply_preferences(customer, patch.preferences)
    replaced = {
        IdentifierKind.email: patch.emails,
        IdentifierKind.phone: patch.phones,
        IdentifierKind.external: patch.external_ids,
    }
    if any(v is not None for v in replaced.values()):
        before = identifiers_of(customer)
        keys = identifier_keys(patch)
        _check_free(session, keys, owner_id=customer.id, prefix="")
        kinds = {kind for kind, value in replaced.items() if value is not None}
        wanted = {key for _, key in keys if key[0] in kinds}
        current = {(i.kind, i.system, i.value): i for i in customer.identifiers}
        for key, identifier in current.items():
            if key[0] in kinds and key not in wanted:
                customer.identifiers.remove(identifier)
        session.flush()
        for key in [k for _, k in keys if k[0] in kinds and k not in current]:
            customer.identifiers.append(
                CustomerIdentifier(id=new_id("cid"), kind=key[0], system=key[1], value=key[2])
            )
        _record_identifier_change(
            session, customer=customer, before=before, actor=actor, now=now, settings=settings
        )
    customer.updated_at = now
    session.flush()
    return customer


IDENTIFIER_FIELDS = ("emails", "phones", "external_ids")


def _record_identifier_change(
    session: Session,
    *,
    customer: Customer,
    before: tuple[list[str], list[str], dict[str, str]],
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> None:
    after = identifiers_of(customer)
    old = {f: v for f, v, w in zip(IDENTIFIER_FIELDS, before, after, strict=True) if v != w}
    new = {f: w for f, v, w in zip(IDENTIFIER_FIELDS, before, after, strict=True) if v != w}
    if not old:
        return
    said = "; ".join(f"{f.replace('_', ' ')}: {_listed(old[f])} → {_listed(new[f])}" for f in old)
    text = f"{actor.name} changed the customer's {said}"
    data = {"old": old, "new": new, "changed_by": timeline.person(actor)}
    case_ids = case_repository.latest_case_ids_of_customer(session, customer.id)
    for case_id in case_ids:
        timeline.record(
            session,
            case_id=case_id,
            kind="identifiers_changed",
            at=now,
            visibility=Visibility.internal,
            text=text,
            staff=actor,
            data=data,
        )
    if not case_ids:  # no case to write it on: the customer's record keeps it
        session.add(
            CustomerFact(
                id=new_id("fct"),
                customer_id=customer.id,
                text=text,
                created_by_id=actor.id,
                created_at=now,
                data=data,
            )
        )
    if "emails" in old:
        # One notice per old address and change: the same change retried (same moment, same new
        # addresses) queues nothing twice. Addresses are up to 320 characters: the key hashes them.
        change = hashlib.sha256(repr((customer.id, now.isoformat(), new["emails"])).encode()).hexdigest()[:32]
        for address in old["emails"]:
            digest = hashlib.sha256(address.encode()).hexdigest()[:32]
            enqueue(
                session,
                key=f"address-changed:{change}:{digest}",
                channel=Channel.email,
                recipient=address,
                kind="address_changed",
                subject="Your address on file was changed",
                body=render.address_changed(
                    customer_name=customer.name, old=address, new=new["emails"], mail_from=settings.mail_from
                ),
                now=now,
                settings=settings,
                customer_id=customer.id,
            )


def _listed(value: list[str] | dict[str, str]) -> str:
    items = [f"{k}:{v}" for k, v in value.items()] if isinstance(value, dict) else list(value)
    return ", ".join(items) if items else "none"


def add_fact(
    session: Session, *, customer: Customer, text: str, actor: Staff | None, now: datetime
) -> CustomerFact:
    policies.require_not_erased(customer)
    fact = CustomerFact(
        id=new_id("fct"),
        customer_id=customer.id,
        text=text.strip(),
        created_by_id=actor.id if actor else None,
        created_at=now,
        data={},
    )
    session.add(fact)
    customer.updated_at = now
    session.flush()
    return fact


def identifiers_of(customer: Customer) -> tuple[list[str], list[str], dict[str, str]]:
    emails = [i.value for i in customer.identifiers if i.kind == IdentifierKind.email]
    phones = [i.value for i in customer.identifiers if i.kind == IdentifierKind.phone]
    external = {i.system: i.value for i in customer.identifiers if i.kind == IdentifierKind.external}
    return emails, phones, external


def lookup_keys(raw: str) -> list[Key]:
    """Every identifier a typed string could be, in any spelling the customer might use."""
    keys: list[Key] = []
    text = raw.strip()
    with contextlib.suppress(ValueError):
        keys.append((IdentifierKind.email, "", rules.normalise_email(text)))
    with contextlib.suppress(ValueError):
        keys.append((IdentifierKind.phone, "", rules.normalise_phone(text)))
    if ":" in text:
        system, _, value = text.partition(":")
        with contextlib.suppress(ValueError):
            keys.append(
                (
                    IdentifierKind.external,
                    rules.normalise_system(system),
                    rules.normalise_external_id(value),
                )
            )
    return keys
