"""The worker: sweeps due timers, then drains the outbox. Every job runs in its own
transaction, so one failing job never stops the others, and a crash loses nothing committed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from ownwell.backups import scheduled_backup
from ownwell.cases.jobs import remind_updates_due
from ownwell.clock import Clock
from ownwell.commitments import jobs as commitment_jobs
from ownwell.config import Settings
from ownwell.customers.jobs import erase_inactive
from ownwell.db import database_unavailable, unit_of_work
from ownwell.feedback.jobs import send_check_ins
from ownwell.incidents.jobs import fan_out_pending
from ownwell.insights.jobs import remind_prevention
from ownwell.insights.jobs import start_fast_path as start_insights
from ownwell.intake.jobs import poll_imap
from ownwell.notifications.delivery import deliver_all, release_held
from ownwell.notifications.senders import Sender, senders_for
from ownwell.offers.jobs import remind_approvals_waiting
from ownwell.operations.idempotency import forget_old_keys
from ownwell.operations.service import stamp_sweep
from ownwell.orders.jobs import sweep_late
from ownwell.web.jobs import purge_expired_sessions

log = logging.getLogger("ownwell.worker")

# Each job: fn(session, *, now, settings) -> rows handled. Idempotent; safe on many workers.
Job = Callable[..., int]
JOBS: list[tuple[str, Job]] = [
    # First, so mail polled now is acknowledged by this same sweep's delivery.
    ("intake.poll_imap", poll_imap),
    ("notifications.release_held", release_held),
    ("commitments.remind_due_soon", commitment_jobs.remind_due_soon),
    ("cases.remind_updates_due", remind_updates_due),
    ("commitments.sweep_broken", commitment_jobs.sweep_broken),
    ("feedback.send_check_ins", send_check_ins),
    ("orders.sweep_late", sweep_late),
    ("incidents.fan_out", fan_out_pending),
    ("offers.remind_approvals_waiting", remind_approvals_waiting),
    ("insights.remind_prevention", remind_prevention),
    ("web.purge_expired_sessions", purge_expired_sessions),
    ("operations.forget_old_idempotency_keys", forget_old_keys),
    ("backups.scheduled_backup", scheduled_backup),
    # OWNWELL_RETENTION_DAYS: erases the personal data of long-quiet customers (off while unset).
    ("customers.erase_inactive", erase_inactive),
]


def _database_down(step: str, exc: Exception) -> None:
    # One line with the cause: a restart would otherwise print a traceback per job per sweep.
    log.error("%s: database unavailable, the next sweep will try again: %s", step, getattr(exc, "orig", exc))


def _run_jobs(
    factory: sessionmaker[Session], clock: Clock, settings: Settings
) -> tuple[dict[str, int], bool]:
    """Every job once; and whether the database was unreachable (then the rest are left for
    the next sweep: they would only fail the same way)."""
    done: dict[str, int] = {name: 0 for name, _ in JOBS}
    for name, job in JOBS:
        try:
            with unit_of_work(factory) as session:
                done[name] = job(session, now=clock.now(), settings=settings)
        except Exception as exc:
            if database_unavailable(exc):
                _database_down(f"job {name}", exc)
                return done, True
            log.exception("job %s failed; the next sweep will try again", name)
        if done[name]:
            log.info("job %s handled %d row(s)", name, done[name])
    return done, False


def run_jobs(factory: sessionmaker[Session], clock: Clock, settings: Settings) -> dict[str, int]:
    """Run every job once at the clock's current time; returns how many rows each handled."""
    return _run_jobs(factory, clock, settings)[0]


def run_once(
    factory: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    senders: Mapping[str, Sender] | None = None,
) -> dict[str, int]:
    done, down = _run_jobs(factory, clock, settings)
    done["notifications.deliver"] = 0
    if down:
        return done
    try:
        done["notifications.deliver"] = deliver_all(
            factory,
            senders=senders if senders is not None else senders_for(settings, clock=clock),
            clock=clock,
            settings=settings,
            # Timers wait while delivery runs: hand back to them after one interval.
            budget_s=settings.worker_interval_s,
        )
    except Exception as exc:
        if database_unavailable(exc):
            _database_down("delivery", exc)
            return done
        log.exception("delivery failed; the next sweep will try again")
    try:
        with unit_of_work(factory) as session:
            stamp_sweep(session, now=clock.now())
    except Exception as exc:
        if database_unavailable(exc):
            _database_down("recording this sweep", exc)
        else:
            log.exception("could not record this sweep; /readyz will say the worker is late")
    return done


def run_forever(
    factory: sessionmaker[Session],
    clock: Clock,
    *,
    settings: Settings,
    interval_s: float,
    stop: threading.Event,
) -> None:
    log.info("worker started, sweeping every %.1f s", interval_s)
    # New cases are matched to recurring issues on a cadence of their own (well under a second):
    # the sweep's interval would leave a case without its issue for seconds.
    insights = start_insights(factory, clock, settings=settings, stop=stop)
    while not stop.is_set():
        done = run_once(factory, clock, settings)
        # Keep draining without pause while there is a backlog.
        if done.get("notifications.deliver", 0) == 0:
            stop.wait(interval_s)
    if insights is not None:
        # Let the batch in hand commit rather than end the process under it (a batch cut short
        # is rolled back, so the wait is short: `docker stop` kills after 10 s).
        insights.join(timeout=5)
    log.info("worker stopped")
