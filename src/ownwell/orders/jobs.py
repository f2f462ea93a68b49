"""Timer sweeps of the orders domain, for the worker to run."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.db import database_unavailable
from ownwell.orders import repository, trouble

log = logging.getLogger(__name__)


def sweep_late(session: Session, *, now: datetime, settings: Settings, batch: int = 200) -> int:
    """P3 for the delay nobody reports: a promised date passed with nothing delivered. Each
    late order gets its one trouble case; running it twice changes nothing."""
    count = 0
    late = repository.late_untroubled(session, now=now, limit=batch)
    if late:
        repository.serialise_case_writes(session)
    for order in late:
        try:
            with session.begin_nested():
                events = repository.events_of(session, [order.id])[order.id]
                if trouble.detect(session, order=order, events=events, now=now, settings=settings):
                    count += 1
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the boundary says so in one line; every other row would fail too
            log.exception("could not take on late order %s; skipped", order.id)
    return count
