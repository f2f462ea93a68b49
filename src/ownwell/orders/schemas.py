"""Pydantic shapes of the orders domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from ownwell.customers.schemas import CustomerIn
from ownwell.kit.text import BoundedText, Moment, RequiredText
from ownwell.orders.models import OrderEventType, OrderStatus, TroubleReason

MAX_BATCH = 1_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Shops pad ids in exports; " A-17 " and "A-17" are the same order.
ExternalId = Annotated[RequiredText(100), AfterValidator(str.strip)]  # type: ignore[valid-type]


class OrderIn(Strict):
    external_id: ExternalId
    customer_id: BoundedText(40) | None = None  # type: ignore[valid-type]
    customer: CustomerIn | None = None
    promised_by: Moment
    department_id: BoundedText(40)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _one_customer(self) -> OrderIn:
        if (self.customer_id is None) == (self.customer is None):
            raise ValueError("give exactly one of customer_id or customer")
        return self


class OrderEventIn(Strict):
    type: OrderEventType
    occurred_at: Moment
    eta: Moment | None = None
    note: BoundedText(2000) | None = None  # type: ignore[valid-type]


class OrderEventItemIn(OrderEventIn):
    order_external_id: ExternalId


@dataclass(frozen=True)
class RejectedItem:
    """A batch item that failed validation on its own; `field` is relative to the item."""

    message: str
    field: str | None


def _describe(exc: ValidationError) -> RejectedItem:
    first = exc.errors()[0]
    # pydantic names validators and union members in the path; they are no field of the API.
    parts = [str(p) for p in first.get("loc", ())]
    field = (
        ".".join(p for p in parts if not p.startswith(("function-", "constrained-", "tagged-union["))) or None
    )
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") in ("model_type", "model_attributes_type", "dict_type"):
        message = "each item must be an object with order_external_id, type and occurred_at"
    elif first.get("type") == "missing":
        message = "this field is required"
    elif first.get("type") == "extra_forbidden":
        message = "this field is not part of the API"
    return RejectedItem(message=f"{field}: {message}" if field else message, field=field)


def _item_or_rejection(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # One bad item must not refuse the whole batch: keep its error as the item instead.
    try:
        return handler(value)
    except ValidationError as exc:
        return _describe(exc)


# Holds an OrderEventItemIn, or a RejectedItem when this item alone is invalid.
EventItem = Annotated[OrderEventItemIn, WrapValidator(_item_or_rejection)]


class OrderEventBatchIn(Strict):
    items: list[EventItem] = Field(max_length=MAX_BATCH)


class OrderEventOut(BaseModel):
    id: str
    order_id: str
    type: OrderEventType
    occurred_at: datetime
    eta: datetime | None
    note: str | None
    received_at: datetime


class OrderOut(BaseModel):
    id: str
    external_id: str
    customer_id: str
    department_id: str
    promised_by: datetime
    status: OrderStatus
    eta: datetime | None
    delivered_at: datetime | None
    # The one case that handles this order's trouble, once there was trouble.
    trouble_case_id: str | None
    trouble_reason: TroubleReason | None
    trouble_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OrderDetail(OrderOut):
    events: list[OrderEventOut]
    case_ids: list[str]


class ItemStatus(StrEnum):
    accepted = "accepted"
    duplicate = "duplicate"
    rejected = "rejected"


class ItemError(BaseModel):
    code: str
    message: str
    field: str | None


class BatchItemOut(BaseModel):
    index: int
    status: ItemStatus
    event_id: str | None = None
    order_id: str | None = None
    error: ItemError | None = None


class BatchOut(BaseModel):
    items: list[BatchItemOut]
