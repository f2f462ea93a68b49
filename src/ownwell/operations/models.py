"""A row per worker process, stamped at the end of every sweep, so that any web process can tell
whether timers are being swept (/readyz) and since when (/metrics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    # host:pid, so two workers on two machines never share a row.
    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sweep_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IdempotencyKey(Base):
    """A client's `Idempotency-Key` and the answer its first request got. Written in the same
    transaction as the change it guards, so a stored answer always means a stored change."""

    __tablename__ = "idempotency_keys"

    # Keys are the caller's own: two integrations may pick the same one.
    staff_id: Mapped[str] = mapped_column(IdStr, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the method, path and body: the same key with another request is an error.
    fingerprint: Mapped[str] = mapped_column(String(64))
    answer: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
