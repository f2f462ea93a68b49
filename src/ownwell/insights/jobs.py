"""The worker side of recurring issues: new cases are matched in batches on a short cadence of
their own, so a case has its issue within about a second while intake never waits for it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.insights import prevention, repository, service, vectors
from ownwell.insights.embedder import BackgroundEmbedder
from ownwell.insights.repository import Pending

log = logging.getLogger("ownwell.insights")

# Cases per batch: about a second of the encoder, so a backlog drains in steps that each commit.
BATCH = 128

Embed = Callable[[list[str]], NDArray[np.float32]]


def assign_pending(
    session: Session, *, now: datetime, settings: Settings, limit: int = BATCH, skip: Collection[str] = ()
) -> int:
    """Match every case that has no recurring issue yet (oldest first, but for `skip`), in this
    transaction; returns how many. For the CLI, tests and benchmarks: the worker uses `match_once`,
    which keeps the encoder out of the transaction."""
    pending = repository.unassigned_cases(session, limit=limit, skip=skip)
    return _assign(session, pending, _embed_all(vectors.embed, pending), now=now, settings=settings)


def _embed_all(embed: Embed, pending: Sequence[Pending]) -> NDArray[np.float32]:
    if not pending:
        return np.zeros((0, vectors.DIM), np.float32)
    return embed([service.case_text(p.subject, p.body) for p in pending])


def _assign(
    session: Session,
    pending: Sequence[Pending],
    embedded: NDArray[np.float32],
    *,
    now: datetime,
    settings: Settings,
) -> int:
    """Assign those of `pending` that are still unmatched (another worker may have taken some
    while they were being embedded)."""
    still = repository.claim_unassigned(session, [p.case_id for p in pending])
    rows = [n for n, p in enumerate(pending) if p.case_id in still]
    if not rows:
        return 0
    return service.assign(
        session, pending=[pending[n] for n in rows], embedded=embedded[rows], now=now, settings=settings
    )


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
    factory: sessionmaker[Session],
    clock: Clock,
    *,
    settings: Settings,
    stop: threading.Event,
    embed: Embed | None = None,
) -> None:
    """Poll for unmatched cases every `insights_interval_s`; drain without pause while a full
    batch keeps coming. One transaction per batch: a crash loses nothing committed. Without
    `embed`, the encoder runs in a low-priority child process."""
    log.info("recurring-issue matching every %.1f s", settings.insights_interval_s)
    background = BackgroundEmbedder() if embed is None else None
    encoder: Embed = embed or background  # type: ignore[assignment]
    skipped: set[str] = set()
    failures = 0
    warm = False
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                if not warm:  # load the encoder before the first case waits on it
                    encoder(["warm up"])
                    warm = True
                done = match_once(factory, clock, settings=settings, skipped=skipped, embed=encoder)
                failures = 0
            except Exception as exc:
                # The database (or the encoder) cannot be used: say so once with the traceback,
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
                # The cadence counts from the start of the last batch: a batch that took longer
                # than the interval is followed at once by the cases that arrived meanwhile.
                stop.wait(max(0.0, settings.insights_interval_s - (time.monotonic() - started)))
    finally:
        if background is not None:
            background.close()


def match_once(
    factory: sessionmaker[Session],
    clock: Clock,
    *,
    settings: Settings,
    skipped: set[str],
    embed: Embed = vectors.embed,
) -> int:
    """One batch: read the oldest unmatched cases, embed them outside any transaction (SQLite
    would hold its write lock, and every request with it, for the encoder's whole run), then
    assign them in one transaction. If that fails, they are assigned one at a time, so one case
    that always fails is logged and added to `skipped` (left for `insights rebuild`) instead of
    holding every later case back."""
    with unit_of_work(factory) as session:
        pending = repository.unassigned_cases(session, limit=BATCH, skip=skipped, lock=False)
    if not pending:
        return 0
    embedded = _embed_all(embed, pending)
    try:
        with unit_of_work(factory) as session:
            return _assign(session, pending, embedded, now=clock.now(), settings=settings)
    except Exception:
        log.exception("matching a batch of cases to recurring issues failed; matching them one by one")
    done = 0
    for n, item in enumerate(pending):
        try:
            with unit_of_work(factory) as session:
                done += _assign(session, [item], embedded[n : n + 1], now=clock.now(), settings=settings)
        except (OperationalError, InterfaceError):
            raise  # the database itself cannot be used: no case is to blame; the caller backs off
        except Exception:
            log.exception("could not match case %s to a recurring issue; skipped", item.case_id)
            skipped.add(item.case_id)
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
