"""Timer sweeps of the web app: expired sign-in sessions are deleted, so the table holds only
sessions that can still sign someone in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.web.models import WebSession


def purge_expired_sessions(session: Session, *, now: datetime, settings: Settings, batch: int = 1000) -> int:
    """Idempotent: an expired session is useless already; deleting it twice deletes nothing."""
    expired = select(WebSession.id).where(WebSession.expires_at <= now).limit(batch)
    ids = list(session.scalars(expired))
    if ids:
        session.execute(delete(WebSession).where(WebSession.id.in_(ids)))
    return len(ids)
