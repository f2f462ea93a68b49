"""Server-side sessions of the staff web app: revocable at logout, and only a hash of the cookie
is kept, so a database dump signs nobody in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime


class WebSession(Base):
    __tablename__ = "web_sessions"

    # SHA-256 of the cookie value (256 random bits, so a fast hash is enough).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str] = mapped_column(IdStr, ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    # Per-session secret the CSRF tokens of this session's forms are derived from.
    csrf_secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
