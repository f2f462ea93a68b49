"""JSON routes for orders and fulfilment events."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ownwell.cases import repository as case_repository
from ownwell.cases.repository import CaseFilter
from ownwell.deps import ApiContext, Ctx
from ownwell.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, split_page
from ownwell.kit.text import BoundedText, PageCursor
from ownwell.orders import ingest, repository, service
from ownwell.orders.models import Order, OrderEvent
from ownwell.orders.schemas import (
    BatchItemOut,
    BatchOut,
    ItemError,
    OrderDetail,
    OrderEventBatchIn,
    OrderEventIn,
    OrderEventOut,
    OrderIn,
    OrderOut,
)

router = APIRouter(tags=["orders"])
IdQuery = BoundedText(40) | None  # type: ignore[valid-type]
ExternalIdQuery = BoundedText(100) | None  # type: ignore[valid-type]


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        external_id=order.external_id,
        customer_id=order.customer_id,
        department_id=order.department_id,
        promised_by=order.promised_by,
        status=order.status,
        eta=order.eta,
        delivered_at=order.delivered_at,
        trouble_case_id=order.trouble_case_id,
        trouble_reason=order.trouble_reason,
        trouble_at=order.trouble_at,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def event_out(event: OrderEvent) -> OrderEventOut:
    return OrderEventOut(
        id=event.id,
        order_id=event.order_id,
        type=event.type,
        occurred_at=event.occurred_at,
        eta=event.eta,
        note=event.note,
        received_at=event.received_at,
    )


def order_detail(ctx: Ctx, order: Order) -> OrderDetail:
    events = repository.events_of(ctx.session, [order.id])[order.id]
    cases = case_repository.list_page(
        ctx.session, CaseFilter(order_id=order.id), limit=MAX_LIMIT, cursor=None
    )
    return OrderDetail(
        **order_out(order).model_dump(),
        events=[event_out(e) for e in events],
        case_ids=sorted(c.id for c in cases),
    )


@router.post("/orders", status_code=201, response_model=OrderDetail)
def create_order(body: OrderIn, ctx: ApiContext) -> OrderDetail:
    """An order to watch: if it runs late, its customer hears it from us first (P3)."""
    order = service.create_order(ctx.session, data=body, now=ctx.now, settings=ctx.settings)
    return order_detail(ctx, order)


@router.get("/orders", response_model=Page[OrderOut])
def list_orders(
    ctx: ApiContext,
    customer_id: IdQuery = None,
    external_id: ExternalIdQuery = None,
    limit: int = DEFAULT_LIMIT,
    cursor: PageCursor | None = None,
) -> Page[OrderOut]:
    rows = repository.list_page(
        ctx.session, customer_id=customer_id, external_id=external_id, limit=limit, cursor=cursor
    )
    items, next_cursor = split_page(rows, limit, lambda o: o.id)
    return Page[OrderOut](items=[order_out(o) for o in items], next_cursor=next_cursor)


@router.get("/orders/{order_id}", response_model=OrderDetail)
def get_order(order_id: str, ctx: ApiContext) -> OrderDetail:
    """The order with its events, oldest first, and the ids of the cases about it."""
    return order_detail(ctx, repository.get(ctx.session, order_id))


@router.post(
    "/orders/{order_id}/events",
    status_code=201,
    response_model=OrderEventOut,
    responses={
        200: {"model": OrderEventOut, "description": "A replay of a recorded event; nothing changed."}
    },
)
def add_event(order_id: str, body: OrderEventIn, ctx: ApiContext, response: Response) -> OrderEventOut:
    """Record a fulfilment event (idempotent on type and occurred_at) and act on it at once."""
    order = repository.get(ctx.session, order_id, for_update=True)
    events = repository.events_of(ctx.session, [order.id])[order.id]
    event, new = service.record_event(
        ctx.session, order=order, events=events, data=body, now=ctx.now, settings=ctx.settings
    )
    if not new:
        response.status_code = 200
    return event_out(event)


@router.post("/order-events", response_model=BatchOut)
def add_events(body: OrderEventBatchIn, ctx: ApiContext) -> BatchOut:
    """Up to 1,000 events by the orders' external ids. Each item is accepted, a duplicate, or
    rejected on its own, with the reason; one bad item never rejects the others."""
    outcomes = ingest.ingest_batch(ctx.session, items=body.items, now=ctx.now, settings=ctx.settings)
    return BatchOut(
        items=[
            BatchItemOut(
                index=index,
                status=outcome.status,
                event_id=outcome.event_id,
                order_id=outcome.order_id,
                error=ItemError(
                    code=outcome.error.code, message=outcome.error.message, field=outcome.error.field
                )
                if outcome.error
                else None,
            )
            for index, outcome in enumerate(outcomes)
        ]
    )
