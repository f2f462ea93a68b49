"""The worker: sweeps due timers on an interval. Every job runs in its own transaction, so one
failing job never stops the others, and a crash loses nothing that was not committed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ownwell.clock import Clock
from ownwell.commitments.jobs import sweep_broken
from ownwell.db import unit_of_work

log = logging.getLogger("ownwell.worker")

Job = Callable[..., int]
JOBS: list[tuple[str, Job]] = [
    ("commitments.sweep_broken", sweep_broken),
]


def run_once(factory: sessionmaker[Session], clock: Clock) -> dict[str, int]:
    """Run every job once at the clock's current time; returns how many rows each handled."""
    done: dict[str, int] = {}
    for name, job in JOBS:
        now: datetime = clock.now()
        try:
            with unit_of_work(factory) as session:
                done[name] = job(session, now=now)
        except Exception:
            log.exception("job %s failed; the next sweep will try again", name)
            done[name] = 0
        if done[name]:
            log.info("job %s handled %d row(s)", name, done[name])
    return done


def run_forever(
    factory: sessionmaker[Session], clock: Clock, *, interval_s: float, stop: threading.Event
) -> None:
    log.info("worker started, sweeping every %.1f s", interval_s)
    while not stop.is_set():
        run_once(factory, clock)
        stop.wait(interval_s)
    log.info("worker stopped")
