"""JSON routes for customers: recognition by any identifier, preferences, remembered facts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ownwell.cases import repository as case_repository
from ownwell.customers import erasure, export, policies, repository, service
from ownwell.customers.models import Customer, CustomerFact
from ownwell.customers.schemas import (
    CaseSummary,
    CustomerDetail,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    ErasedOut,
    EraseIn,
    FactIn,
    FactOut,
    PreferencesOut,
    QuietHoursOut,
    TimelineEntry,
)
from ownwell.deps import ApiContext
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import BoundedText, PageCursor
from ownwell.orders import repository as order_repository
from ownwell.orders.api import order_out

router = APIRouter(tags=["customers"])
Cursor = PageCursor | None
IdentifierQuery = BoundedText(320) | None  # type: ignore[valid-type]


def customer_out(customer: Customer) -> CustomerOut:
    emails, phones, external = service.identifiers_of(customer)
    quiet = (
        QuietHoursOut(start=customer.quiet_start, end=customer.quiet_end)
        if customer.quiet_start and customer.quiet_end
        else None
    )
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        emails=emails,
        phones=phones,
        external_ids=external,
        preferences=PreferencesOut(
            channel=customer.preferred_channel,
            quiet_hours=quiet,
            timezone=customer.timezone,
            language=customer.language,
            topics=list(customer.topics or []),
            do_not_contact=customer.do_not_contact,
        ),
        personal_contact_id=customer.personal_contact_id,
        created_at=customer.created_at,
    )


def fact_out(fact: CustomerFact) -> FactOut:
    return FactOut(id=fact.id, text=fact.text, created_at=fact.created_at, created_by_id=fact.created_by_id)


@router.post("/customers", status_code=201, response_model=CustomerOut)
def create_customer(body: CustomerIn, ctx: ApiContext) -> CustomerOut:
    customer = service.create_customer(
        ctx.session, data=body, now=ctx.now, default_timezone=ctx.settings.timezone
    )
    return customer_out(customer)


@router.get("/customers", response_model=Page[CustomerOut])
def list_customers(
    ctx: ApiContext,
    identifier: IdentifierQuery = None,
    limit: int = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CustomerOut]:
    """All customers, newest first; with `identifier`, the customer holding that e-mail, phone
    or external id (`system:id`, or just the id), in whatever spelling it was typed."""
    if identifier is None:
        rows = repository.list_page(ctx.session, limit=limit, cursor=cursor)
        items, next_cursor = split_page(rows, limit, lambda c: c.id)
        return Page[CustomerOut](items=[customer_out(c) for c in items], next_cursor=next_cursor)
    ids: list[str] = []
    for key in service.lookup_keys(identifier):
        held = repository.owners_of(ctx.session, [key])
        ids.extend(held.values())
    ids.extend(repository.find_external_any_system(ctx.session, identifier.strip()))
    found = [repository.get(ctx.session, customer_id) for customer_id in dict.fromkeys(ids)]
    return Page[CustomerOut](items=[customer_out(c) for c in found], next_cursor=None)


@router.get("/customers/{customer_id}", response_model=CustomerDetail)
def get_customer(customer_id: str, ctx: ApiContext) -> CustomerDetail:
    customer = repository.get(ctx.session, customer_id)
    base = customer_out(customer)
    open_cases = [
        CaseSummary(
            id=c.id,
            subject=c.subject,
            status=c.status,
            owner={"id": c.owner.id, "name": c.owner.name},
            next_update_due=c.next_update_due,
            created_at=c.created_at,
        )
        for c in case_repository.active_for_customer(ctx.session, customer.id)
    ]
    events = [
        TimelineEntry(id=e.id, case_id=e.case_id, at=e.at, kind=e.kind, text=e.text)
        for e in case_repository.recent_customer_events(ctx.session, customer.id)
    ]
    orders = order_repository.list_page(
        ctx.session, customer_id=customer.id, external_id=None, limit=50, cursor=None
    )
    return CustomerDetail(
        **base.model_dump(),
        orders=[order_out(o).model_dump() for o in orders[:50]],
        facts=[fact_out(f) for f in repository.facts(ctx.session, customer.id)],
        open_cases=open_cases,
        recent_timeline=events,
    )


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
def update_customer(customer_id: str, body: CustomerPatch, ctx: ApiContext) -> CustomerOut:
    customer = repository.get(ctx.session, customer_id)
    if body.emails is not None or body.phones is not None or body.external_ids is not None:
        policies.require_can_change_identifiers(ctx.session, ctx.actor, customer)
    updated = service.update_customer(
        ctx.session, customer=customer, patch=body, actor=ctx.actor, now=ctx.now, settings=ctx.settings
    )
    return customer_out(updated)


@router.post("/customers/{customer_id}/facts", status_code=201, response_model=FactOut)
def add_fact(customer_id: str, body: FactIn, ctx: ApiContext) -> FactOut:
    customer = repository.get(ctx.session, customer_id)
    return fact_out(
        service.add_fact(ctx.session, customer=customer, text=body.text, actor=ctx.actor, now=ctx.now)
    )


@router.get("/customers/{customer_id}/export")
def export_customer(customer_id: str, ctx: ApiContext) -> dict[str, Any]:
    """Everything held about the customer (GDPR art. 15 and 20), in the shape of
    docs/schemas/customer-export.schema.json; the web app's download adds their files."""
    policies.require_can_export(ctx.actor)
    return export.export_document(ctx.session, customer_id=customer_id, now=ctx.now)


@router.post("/customers/{customer_id}/erase", response_model=ErasedOut)
def erase_customer(customer_id: str, body: EraseIn, ctx: ApiContext) -> ErasedOut:
    """Erase the customer's personal data everywhere (GDPR art. 17); admins only. The record stays
    as "Erased customer" with when, by whom and why; counts and metrics are unchanged."""
    policies.require_can_erase(ctx.actor)
    customer = repository.get(ctx.session, customer_id)
    erasure.erase_customer(ctx.session, customer=customer, reason=body.reason, actor=ctx.actor, now=ctx.now)
    return ErasedOut(
        id=customer.id,
        name=customer.name,
        erased_at=customer.erased_at or ctx.now,
        erased_by_id=customer.erased_by_id,
        erased_reason=customer.erased_reason or body.reason,
    )
