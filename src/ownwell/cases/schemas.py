"""Pydantic shapes of the cases domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ownwell.cases.models import CaseChannel, CaseKind, CaseStatus, Visibility
from ownwell.customers.schemas import CustomerIn
from ownwell.kit.text import BoundedText, RequiredText, SingleLine


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseIn(Strict):
    customer_id: BoundedText(40) | None = None  # type: ignore[valid-type]
    customer: CustomerIn | None = Field(default=None, validate_default=True)
    subject: SingleLine(300) | None = None  # type: ignore[valid-type]
    body: RequiredText(20_000)  # type: ignore[valid-type]
    channel: CaseChannel = CaseChannel.api
    kind: CaseKind = CaseKind.question
    order_id: BoundedText(40) | None = None  # type: ignore[valid-type]
    caused_by_department_id: BoundedText(40) | None = None  # type: ignore[valid-type]

    @field_validator("customer")
    @classmethod
    def _one_customer(cls, customer: CustomerIn | None, info: ValidationInfo) -> CustomerIn | None:
        # A field validator (not a model one), so that the error names a field: `customer`.
        if (info.data.get("customer_id") is None) == (customer is None):
            raise ValueError("give exactly one of customer_id or customer")
        return customer


class CasePatch(Strict):
    subject: SingleLine(300, required=True) | None = None  # type: ignore[valid-type]
    kind: CaseKind | None = None
    caused_by_department_id: BoundedText(40) | None = None  # type: ignore[valid-type]


class MessageIn(Strict):
    body: RequiredText(20_000)  # type: ignore[valid-type]
    visibility: Visibility = Visibility.customer
    # True when the customer wrote this (a chat or phone gateway relaying their words).
    from_customer: bool = False
    # After a reply to the customer, wait for their answer before we owe the next step.
    wait_for_customer: bool = False


class TransferIn(Strict):
    to_staff_id: BoundedText(40)  # type: ignore[valid-type]
    handoff_note: RequiredText(5000)  # type: ignore[valid-type]


class ResolveIn(Strict):
    summary: RequiredText(5000)  # type: ignore[valid-type]
    next_issue_tip: BoundedText(2000) | None = None  # type: ignore[valid-type]


class ReopenIn(Strict):
    reason: RequiredText(2000)  # type: ignore[valid-type]


class Person(BaseModel):
    id: str
    name: str


class Actor(Person):
    type: str


class CaseOut(BaseModel):
    id: str
    customer_id: str
    subject: str
    kind: CaseKind
    channel: CaseChannel
    status: CaseStatus
    proactive: bool
    # Opened in the name of an address nobody proved to hold (help form, unauthenticated mail),
    # until the customer answers from it.
    unverified_sender: bool
    owner: Person
    caused_by_department_id: str | None
    order_id: str | None
    incident_id: str | None
    next_update_due: datetime | None
    portal_url: str
    recurring_issue_id: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


class EventOut(BaseModel):
    id: str
    at: datetime
    kind: str
    actor: Actor | None
    visibility: Visibility
    text: str
    data: dict[str, Any]


class CadenceIn(Strict):
    update_every_minutes: int = Field(ge=5, le=60 * 24 * 60)


class CadenceOut(BaseModel):
    kind: str
    update_every_minutes: int
