"""JSON shapes of the intake API: quarantined mail and attachments."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ownwell.intake.models import MailSource, QuarantineStatus


class QuarantineOut(BaseModel):
    id: str
    received_at: datetime
    source: MailSource
    envelope_from: str | None
    envelope_to: list[str]
    message_id: str | None
    subject: str
    reason: str
    size: int
    status: QuarantineStatus
    raw_url: str


class AttachmentOut(BaseModel):
    id: str
    case_id: str
    event_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    download_url: str


class RetryOut(BaseModel):
    outcome: str  # "opened" | "threaded" | "ignored"
    case_id: str | None
    quarantine: QuarantineOut
