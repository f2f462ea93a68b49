"""Pydantic shapes of the feedback domain."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ownwell.feedback.models import KudosSource


class KudosOut(BaseModel):
    id: str
    staff_id: str
    case_id: str
    customer_id: str
    text: str
    source: KudosSource
    created_at: datetime
