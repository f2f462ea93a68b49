"""The outbox table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.cases.models import Case
from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime


class OutboxStatus(StrEnum):
    queued = "queued"
    held = "held"
    sent = "sent"
    failed = "failed"
    retrying = "retrying"


class OutboxChannel(StrEnum):
    email = "email"
    webhook = "webhook"
    portal = "portal"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    # Unique: the same cause never produces two messages, however often it is replayed.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    channel: Mapped[OutboxChannel] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    recipient_staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker's lease on this row while it delivers; an expired lease means the worker died.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case | None] = relationship(lazy="raise")
