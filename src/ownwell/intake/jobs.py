"""Timer sweeps of the intake domain, registered with the worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.intake import imap


def poll_imap(session: Session, *, now: datetime, settings: Settings) -> int:
    """Fetch unseen mail from the configured IMAP folder (off while OWNWELL_IMAP_HOST is unset)."""
    if not settings.imap_host:
        return 0
    return imap.poll(session, now=now, settings=settings)
