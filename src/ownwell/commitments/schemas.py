"""Pydantic shapes of the commitments domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ownwell.commitments.models import CommitmentStatus
from ownwell.kit.text import BoundedText, Moment, RequiredText


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommitmentIn(Strict):
    text: RequiredText(2000)  # type: ignore[valid-type]
    due_at: Moment
    owner_id: BoundedText(40) | None = None  # type: ignore[valid-type]


class RenegotiateIn(Strict):
    due_at: Moment
    note: RequiredText(2000)  # type: ignore[valid-type]


class RenegotiationOut(BaseModel):
    old_due_at: datetime
    new_due_at: datetime
    note: str
    at: datetime


class CommitmentOut(BaseModel):
    id: str
    case_id: str
    owner_id: str
    text: str
    due_at: datetime
    status: CommitmentStatus
    created_at: datetime
    closed_at: datetime | None
    renegotiations: list[RenegotiationOut] = []
