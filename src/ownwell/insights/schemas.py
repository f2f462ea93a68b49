"""Pydantic shapes of the insights domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ownwell.insights.models import PreventionStatus
from ownwell.kit.text import BoundedText, Moment, RequiredText, SingleLine


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MergeIn(Strict):
    into_id: BoundedText(40, min_length=1)  # type: ignore[valid-type]


class SplitIn(Strict):
    case_ids: list[BoundedText(40, min_length=1)] = Field(min_length=1, max_length=1000)  # type: ignore[valid-type]
    label: SingleLine(300) | None = None  # type: ignore[valid-type]


class PreventionIn(Strict):
    text: RequiredText(2000)  # type: ignore[valid-type]
    due_at: Moment
    owner_id: BoundedText(40, min_length=1)  # type: ignore[valid-type]


class RootCauseIn(Strict):
    root_cause: RequiredText(5000)  # type: ignore[valid-type]
    prevention: PreventionIn


class TrendOut(BaseModel):
    daily: list[int]
    last_24h: int
    previous_24h: int
    direction: str


class DepartmentCount(BaseModel):
    department_id: str | None
    case_count: int


class PreventionOut(BaseModel):
    id: str
    issue_id: str
    owner_id: str
    text: str
    due_at: datetime
    status: PreventionStatus
    created_at: datetime
    done_at: datetime | None = None


class RecurringIssueOut(BaseModel):
    id: str
    label: str
    case_count: int
    first_seen: datetime
    last_seen: datetime
    department_id: str | None
    example_case_ids: list[str]
    trend: TrendOut
    root_cause: str | None
    spike_alerted_at: datetime | None
    merged_into_id: str | None
    # Filled on the single-issue read only: the list stays one query per page.
    departments: list[DepartmentCount] = []
    prevention_actions: list[PreventionOut] = []


class RecurringIssuePage(BaseModel):
    items: list[RecurringIssueOut]
    next_cursor: str | None
