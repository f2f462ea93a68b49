"""Pydantic shapes of the offers domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer

from ownwell.kit.text import BoundedText, RequiredText
from ownwell.offers.models import OfferStatus, OfferType


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _iso_currency(value: str) -> str:
    # Upper case only: "eur" is refused rather than guessed, so stored codes are uniform.
    if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise ValueError("must be a three-letter ISO 4217 code in upper case, like EUR")
    return value


Currency = Annotated[BoundedText(3), AfterValidator(_iso_currency)]  # type: ignore[valid-type]
OfferAmount = Annotated[Decimal, Field(gt=0, le=1_000_000_000, max_digits=12, decimal_places=2)]


class OfferIn(Strict):
    type: OfferType
    amount: OfferAmount
    currency: Currency
    # Why this offer: read by the supervisor who decides it; never sent to the customer.
    note: RequiredText(2000)  # type: ignore[valid-type]


class ApproveIn(Strict):
    note: BoundedText(2000) | None = None  # type: ignore[valid-type]


class RejectIn(Strict):
    # The reason stays internal; the customer hears the decision from the case owner.
    note: RequiredText(2000)  # type: ignore[valid-type]


class Person(BaseModel):
    id: str
    name: str


class OfferOut(BaseModel):
    id: str
    case_id: str
    type: OfferType
    amount: Decimal
    currency: str
    note: str
    status: OfferStatus
    proposed_by: Person
    decided_by: Person | None
    decided_at: datetime | None
    decision_note: str | None
    approval_due_at: datetime | None
    created_at: datetime

    @field_serializer("amount")
    def _as_string(self, value: Decimal) -> str:
        return f"{value:.2f}"
