"""Pydantic shapes of the incidents domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ownwell.cases.schemas import Person
from ownwell.kit.text import BoundedText, Moment, RequiredText, SingleLine

# One request names at most this many customers; bigger incidents need several requests.
MAX_AFFECTED = 100_000
DEFAULT_GROUP_SIZE = 200

# Shops pad ids in exports; " A-17 " and "A-17" are the same order.
OrderExternalId = Annotated[RequiredText(100), AfterValidator(str.strip)]  # type: ignore[valid-type]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentIn(Strict):
    title: SingleLine(200, required=True)  # type: ignore[valid-type]
    caused_by_department_id: BoundedText(40)  # type: ignore[valid-type]
    owner_id: BoundedText(40)  # type: ignore[valid-type]
    customer_ids: list[BoundedText(40)] | None = Field(  # type: ignore[valid-type]
        default=None, min_length=1, max_length=MAX_AFFECTED
    )
    order_external_ids: list[OrderExternalId] | None = Field(  # type: ignore[valid-type]
        default=None, min_length=1, max_length=MAX_AFFECTED, validate_default=True
    )
    # What happened and what we are doing about it, in our own words; the rest is added.
    message: RequiredText(5000)  # type: ignore[valid-type]
    group_size: int = Field(default=DEFAULT_GROUP_SIZE, ge=1, le=10_000)
    # When we promise the next update; by default a few hours from now.
    next_update_at: Moment | None = None

    @field_validator("order_external_ids")
    @classmethod
    def _one_way_to_name_customers(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # A field validator (not a model one), so that the error names a field.
        given = info.data.get("customer_ids") is not None
        if given and value is not None:
            raise ValueError("give customer_ids or order_external_ids, not both")
        if not given and value is None and "customer_ids" in info.data:
            raise ValueError("give customer_ids or order_external_ids")
        return value


class UpdateIn(Strict):
    message: RequiredText(5000)  # type: ignore[valid-type]
    next_update_at: Moment | None = None


class ReplyIn(Strict):
    customer_id: BoundedText(40)  # type: ignore[valid-type]
    body: RequiredText(20_000)  # type: ignore[valid-type]


class DeliveryCounts(BaseModel):
    """What the outbox rows say right now; `sent` counts only rows the server accepted."""

    queued: int = 0  # waiting for the worker, including those to be retried
    held: int = 0  # no SMTP server or gateway configured yet
    sent: int = 0
    failed: int = 0
    not_contacted: int = 0  # the customer asked not to be contacted
    pending: int = 0  # not yet fanned out to the outbox


class GroupOut(BaseModel):
    number: int
    concierge: Person
    customer_count: int


class UpdateOut(BaseModel):
    id: str
    number: int
    message: str
    author: Person | None
    next_update_due: datetime
    created_at: datetime
    fanned_out_at: datetime | None
    delivery: DeliveryCounts


class IncidentOut(BaseModel):
    id: str
    title: str
    caused_by_department_id: str
    owner: Person
    affected_count: int
    group_size: int
    update_count: int
    next_update_due: datetime
    created_at: datetime
    updated_at: datetime


class IncidentDetail(IncidentOut):
    groups: list[GroupOut]
    updates: list[UpdateOut]
    # Totals over every update.
    delivery: DeliveryCounts
