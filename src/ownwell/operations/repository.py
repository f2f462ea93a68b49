"""Reading what operators watch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ownwell.operations.models import WorkerHeartbeat


def last_sweep(session: Session) -> datetime | None:
    """The newest sweep of any worker."""
    return session.scalar(select(func.max(WorkerHeartbeat.last_sweep_at)))
