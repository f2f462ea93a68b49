"""The worker side of recurring issues: new cases are matched in batches on a short cadence of
their own, so a case has its issue within about a second while intake never waits for it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.insights import prevention, repository, service, vectors
from ownwell.insights.repository import Pending

log = logging.getLogger("ownwell.insights")

BATCH = 500


def assign_pending(
    session: Session, *, now: datetime, settings: Settings, limit: int = BATCH, skip: Collection[str] = ()
) -> int:
    """Match every case that has no recurring issue yet (oldest first, but for `skip`); returns
    how many."""
    pending = repository.unassigned_cases(session, limit=limit, skip=skip)
    if not pending:
        return 0
    return _assign(session, pending, now=now, settings=settings)


def _assign(session: Session, pending: list[Pending], *, now: datetime, settings: Settings) -> int:
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
    skipped: set[str] = set()
    failures = 0
    warm = False
    while not stop.is_set():
        try:
            if not warm:  # load the word vectors before the first case waits on them
                vectors.embed(["warm up"])
                warm = True
            done = match_once(factory, clock, settings=settings, skipped=skipped)
            failures = 0
        except Exception as exc:
            # The database (or the model files) cannot be used: say so once with the traceback,
            # then one line a try, and back off to at most a minute between tries.
            if failures == 0:
                log.exception("recurring-issue matching cannot run; retrying")
            else:
                log.warning("recurring-issue matching still cannot run: %s", exc)
            failures += 1
            stop.wait(min(settings.insights_interval_s * 2**failures, 60.0))
            continue
        if done:
            log.debug("matched %d case(s) to recurring issues", done)
        if done < BATCH:
            stop.wait(settings.insights_interval_s)


def match_once(factory: sessionmaker[Session], clock: Clock, *, settings: Settings, skipped: set[str]) -> int:
    """One batch in one transaction. If the batch fails, its cases are matched one at a time, so
    one case that always fails is logged and added to `skipped` (left for `insights rebuild`)
    instead of holding every later case back."""
    try:
        with unit_of_work(factory) as session:
            return assign_pending(session, now=clock.now(), settings=settings, skip=skipped)
    except Exception:
        log.exception("matching a batch of cases to recurring issues failed; matching them one by one")
    done = 0
    for _ in range(BATCH):
        case_id = None
        try:
            with unit_of_work(factory) as session:
                pending = repository.unassigned_cases(session, limit=1, skip=skipped)
                if not pending:
                    break
                case_id = pending[0].case_id
                done += _assign(session, pending, now=clock.now(), settings=settings)
        except Exception:
            if case_id is None:  # the database itself failed: the caller backs off
                raise
            log.exception("could not match case %s to a recurring issue; skipped", case_id)
            skipped.add(case_id)
    return done


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
