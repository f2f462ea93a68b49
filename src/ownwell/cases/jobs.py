"""Timer sweeps of the cases domain (P5): remind owners before a customer update is due."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ownwell.cases import repository
from ownwell.config import Settings
from ownwell.db import database_unavailable
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.notifications.render import local_time

log = logging.getLogger(__name__)


def remind_updates_due(session: Session, *, now: datetime, settings: Settings, batch: int = 500) -> int:
    """One reminder per cadence window, to the owner, before the customer waits too long."""
    horizon = now + timedelta(minutes=settings.reminder_lead_minutes)
    count = 0
    for case in repository.updates_due_unreminded(session, until=horizon, limit=batch):
        try:
            with session.begin_nested():
                due = local_time(case.next_update_due, settings.timezone)  # type: ignore[arg-type]
                enqueue_to_staff(
                    session,
                    staff_id=case.owner.id,
                    email=case.owner.email,
                    key=f"update-due:{case.id}:{case.next_update_due.isoformat()}",  # type: ignore[union-attr]
                    kind="update_reminder",
                    subject=f"Update due {due}: {case.subject}",
                    body=(
                        f"{case.owner.name}, the customer of {case.subject!r} expects to hear from you by "
                        f"{due}: what happened, what you are doing, and when it will be fixed.\n\n"
                        f"{settings.base_url}/app/cases/{case.id}"
                    ),
                    now=now,
                    settings=settings,
                    case_id=case.id,
                )
                case.update_reminded_for = case.next_update_due
            count += 1
        except Exception as exc:
            if database_unavailable(exc):
                raise  # the boundary says so in one line; every other row would fail too
            log.exception("could not remind about case %s; skipped", case.id)
    return count
