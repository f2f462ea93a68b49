"""Shapes of the agenda."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class AgendaKind(StrEnum):
    commitment = "commitment"
    update_due = "update_due"
    follow_up = "follow_up"
    approval = "approval"
    new_case = "new_case"


class AgendaItem(BaseModel):
    kind: AgendaKind
    due_at: datetime
    case_id: str
    commitment_id: str | None
    text: str
