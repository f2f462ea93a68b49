"""A row per worker process, stamped at the end of every sweep, so that any web process can tell
whether timers are being swept (/readyz) and since when (/metrics)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ownwell.db import Base
from ownwell.kit.types import UTCDateTime


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"

    # host:pid, so two workers on two machines never share a row.
    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sweep_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
