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
    prevention = "prevention"


class AgendaItem(BaseModel):
    kind: AgendaKind
    due_at: datetime
    # None for kind `prevention`: a prevention action belongs to a recurring issue, not a case.
    case_id: str | None
    commitment_id: str | None
    # The offer waiting for this person's decision (kind `approval`).
    offer_id: str | None = None
    # The prevention action this person owns and its recurring issue (kind `prevention`).
    recurring_issue_id: str | None = None
    prevention_id: str | None = None
    text: str
