"""The one writer of a manual change to an outbox row: sending a failed or held message again.
It flushes, never commits; the worker delivers the row on its next sweep."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import timeline
from ownwell.cases.models import Visibility
from ownwell.config import Settings
from ownwell.customers.models import Channel
from ownwell.errors import Conflict
from ownwell.notifications.models import OutboxMessage, OutboxStatus
from ownwell.notifications.outbox import initial_status
from ownwell.staff.models import Staff

log = logging.getLogger("ownwell.outbox")

RETRYABLE = (OutboxStatus.failed, OutboxStatus.held)


def retry(
    session: Session, *, message: OutboxMessage, actor: Staff, now: datetime, settings: Settings
) -> OutboxMessage:
    """failed/held → queued, due now. The attempt count is kept (it is the message's history and
    the idempotency key and Message-ID do not change, so a receiver can still spot a repeat);
    one more failure marks it failed again rather than starting a new run of retries."""
    old = OutboxStatus(message.status)
    if old not in RETRYABLE:
        raise Conflict(
            f"this message is {old}; only failed or held messages can be sent again", field="status"
        )
    # A held message waits for a server to be configured; without one it would only be held again.
    new = initial_status(Channel(message.channel), settings)
    if new == OutboxStatus.held:
        raise Conflict(
            f"no {message.channel} server is configured, so this message cannot be sent yet; "
            "held messages go out by themselves once one is",
            field="channel",
        )
    message.status = new
    message.next_attempt_at = now
    message.claimed_until = None
    if message.case_id is not None:
        timeline.record(
            session,
            case_id=message.case_id,
            kind="message_retried",
            at=now,
            visibility=Visibility.internal,
            text=f"{actor.name} asked for the {message.channel} message \u201c{message.subject}\u201d "
            f"to {message.recipient} to be sent again (it was {old}).",
            staff=actor,
            data={
                "message_id": message.id,
                "old": old.value,
                "new": new.value,
                "last_error": message.last_error,
            },
        )
    # Staff reminders belong to no case: the log is their trail.
    log.info("%s asked for message %s to be sent again (was %s)", actor.id, message.id, old)
    session.flush()
    return message
