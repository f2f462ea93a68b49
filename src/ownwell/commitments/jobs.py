"""Timer sweeps of the commitments domain, for the worker to run."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.commitments import repository, service

log = logging.getLogger(__name__)


def sweep_broken(session: Session, *, now: datetime, batch: int = 500) -> int:
    """Mark every overdue pending commitment broken. Running it twice changes nothing."""
    count = 0
    for commitment in repository.overdue(session, now=now, limit=batch):
        try:
            with session.begin_nested():
                service.mark_broken(session, commitment=commitment, now=now)
            count += 1
        except Exception:
            log.exception("could not mark commitment %s broken; skipped", commitment.id)
    return count
