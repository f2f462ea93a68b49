"""Timer sweeps of the incidents domain, for the worker to run."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.db import database_unavailable
from ownwell.incidents import fanout, repository

log = logging.getLogger(__name__)

# Customers per sweep: bounds one worker transaction; the next sweep carries on from there.
FANOUT_PER_SWEEP = 100_000


def fan_out_pending(
    session: Session, *, now: datetime, settings: Settings, budget: int = FANOUT_PER_SWEEP
) -> int:
    """Queue every incident message still owed to customers, oldest first; returns how many
    customers were handled. Running it twice changes nothing (progress and keys are stored)."""
    handled = 0
    tried: set[str] = set()
    while handled < budget:
        updates = [u for u in repository.pending_updates(session, limit=20) if u.id not in tried]
        if not updates:
            break
        for update in updates:
            tried.add(update.id)
            try:
                with session.begin_nested():
                    handled += fanout.fan_out(
                        session, update=update, now=now, settings=settings, budget=budget - handled
                    )
            except Exception as exc:
                if database_unavailable(exc):
                    raise  # the boundary says so in one line; every other row would fail too
                log.exception("could not fan out incident update %s; the next sweep retries", update.id)
            if handled >= budget:
                break
    return handled
