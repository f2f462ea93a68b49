"""The worker side of recurring issues: new cases are matched in batches on a short cadence of
their own, so a case has its issue within about a second while intake never waits for it."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.insights import prevention, repository, service, vectors

log = logging.getLogger("ownwell.insights")

BATCH = 500


def assign_pending(session: Session, *, now: datetime, settings: Settings, limit: int = BATCH) -> int:
    """Match every case that has no recurring issue yet (oldest first); returns how many."""
    pending = repository.unassigned_cases(session, limit=limit)
    if not pending:
        return 0
    embedded = vectors.embed([service.case_text(p.subject, p.body) for p in pending])
    return service.assign(session, pending=pending, embedded=embedded, now=now, settings=settings)


def remind_prevention(session: Session, *, now: datetime, settings: Settings, batch: int = 500) -> int:
    """Tell each owner once when an open prevention action comes within the reminder lead, and
    once more, with a supervisor of the issue's department, when it is overdue."""
    count = 0
    horizon = now + timedelta(minutes=settings.reminder_lead_minutes)
    steps = (
        (
            repository.prevention_due_soon_unreminded(session, now=now, until=horizon, limit=batch),
            prevention.remind,
        ),
        (repository.prevention_overdue_unescalated(session, now=now, limit=batch), prevention.escalate),
    )
    for actions, step in steps:
        for action in actions:
            try:
                with session.begin_nested():
                    step(session, action=action, now=now, settings=settings)
                count += 1
            except Exception:
                log.exception("could not remind about prevention action %s; skipped", action.id)
    return count


def run_fast_path(
    factory: sessionmaker[Session], clock: Clock, *, settings: Settings, stop: threading.Event
) -> None:
    """Poll for unmatched cases every `insights_interval_s`; drain without pause while a full
    batch keeps coming. One transaction per batch: a crash loses nothing committed."""
    log.info("recurring-issue matching every %.1f s", settings.insights_interval_s)
    vectors.embed(["warm up"])  # load the word vectors before the first case waits on them
    while not stop.is_set():
        try:
            with unit_of_work(factory) as session:
                done = assign_pending(session, now=clock.now(), settings=settings)
        except Exception:
            log.exception("matching cases to recurring issues failed; trying again")
            done = 0
        if done:
            log.debug("matched %d case(s) to recurring issues", done)
        if done < BATCH:
            stop.wait(settings.insights_interval_s)


def start_fast_path(
    factory: sessionmaker[Session], clock: Clock, *, settings: Settings, stop: threading.Event
) -> threading.Thread | None:
    if not settings.insights_enabled:
        return None
    thread = threading.Thread(
        target=run_fast_path,
        kwargs={"factory": factory, "clock": clock, "settings": settings, "stop": stop},
        name="ownwell-insights",
        daemon=True,
    )
    thread.start()
    return thread
