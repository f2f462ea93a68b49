"""Pydantic shapes of the customers domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ownwell.customers import rules
from ownwell.customers.models import Channel
from ownwell.kit.text import BoundedText, RequiredText, SingleLine


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris") from exc
    return value


EmailIn = Annotated[BoundedText(320, min_length=3), AfterValidator(rules.normalise_email)]
PhoneIn = Annotated[BoundedText(40, min_length=3), AfterValidator(rules.normalise_phone)]
TimeZoneName = Annotated[BoundedText(64, min_length=1), AfterValidator(_zone)]
QuietTime = Annotated[BoundedText(5), AfterValidator(rules.check_quiet_time)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuietHours(Strict):
    start: QuietTime
    end: QuietTime


class PreferencesIn(Strict):
    channel: Channel | None = None
    quiet_hours: QuietHours | None = None
    timezone: TimeZoneName | None = None
    language: BoundedText(35, min_length=2) | None = None  # type: ignore[valid-type]
    topics: list[RequiredText(100)] | None = Field(default=None, max_length=50)  # type: ignore[valid-type]
    do_not_contact: bool | None = None


# Key and value checked one by one, so that an error names its entry: `external_ids.<system>`.
SystemName = Annotated[BoundedText(100, min_length=1), AfterValidator(rules.normalise_system)]
ExternalId = Annotated[BoundedText(200), AfterValidator(rules.normalise_external_id)]
ExternalIds = dict[SystemName, ExternalId]


class CustomerIn(Strict):
    name: SingleLine(200, required=True) | None = None  # type: ignore[valid-type]
    emails: list[EmailIn] = Field(default_factory=list, max_length=20)
    phones: list[PhoneIn] = Field(default_factory=list, max_length=20)
    external_ids: ExternalIds = Field(default_factory=dict, max_length=20)
    preferences: PreferencesIn | None = None
    personal_contact_id: BoundedText(40) | None = None  # type: ignore[valid-type]


class CustomerPatch(CustomerIn):
    emails: list[EmailIn] | None = Field(default=None, max_length=20)  # type: ignore[assignment]
    phones: list[PhoneIn] | None = Field(default=None, max_length=20)  # type: ignore[assignment]
    external_ids: ExternalIds | None = Field(default=None, max_length=20)  # type: ignore[assignment]


class FactIn(Strict):
    text: RequiredText(2000)  # type: ignore[valid-type]


class QuietHoursOut(BaseModel):
    start: str
    end: str


class PreferencesOut(BaseModel):
    channel: Channel
    quiet_hours: QuietHoursOut | None
    timezone: str
    language: str | None
    topics: list[str]
    do_not_contact: bool


class FactOut(BaseModel):
    id: str
    text: str
    created_at: datetime
    created_by_id: str | None


class CaseSummary(BaseModel):
    id: str
    subject: str
    status: str
    owner: dict[str, str]
    next_update_due: datetime | None
    created_at: datetime


class TimelineEntry(BaseModel):
    id: str
    case_id: str
    at: datetime
    kind: str
    text: str


class CustomerOut(BaseModel):
    id: str
    name: str
    emails: list[str]
    phones: list[str]
    external_ids: dict[str, str]
    preferences: PreferencesOut
    personal_contact_id: str | None
    created_at: datetime


class CustomerDetail(CustomerOut):
    facts: list[FactOut]
    # The newest 50 orders, as GET /orders/{id} shows them (without their events).
    orders: list[dict[str, Any]]
    open_cases: list[CaseSummary]
    recent_timeline: list[TimelineEntry]


class EraseIn(Strict):
    # Why (the request and how it came), in the admin's words; kept on the record, so no
    # personal data here.
    reason: RequiredText(500)  # type: ignore[valid-type]


class ErasedOut(BaseModel):
    id: str
    name: str
    erased_at: datetime
    erased_by_id: str | None
    erased_reason: str
