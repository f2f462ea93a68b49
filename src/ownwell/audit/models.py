"""One row per audited change. Rows are only ever inserted: no route, form or command of the app
updates or deletes one (a restore brings them back with the rest of the database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The staff member who did it; None for the command line and the worker (see `actor_label`).
    actor_id: Mapped[str | None] = mapped_column(IdStr)
    # The actor's name at the time, so the row still reads right after the person is gone.
    actor_label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    after: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(Text)
