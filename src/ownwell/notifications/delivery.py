"""Draining the outbox: claim due rows, hand each to its sender, record what happened.

A row is claimed with a lease (`claimed_until`) in a short transaction — `FOR UPDATE SKIP
LOCKED` on PostgreSQL, so any number of workers take different rows. Each outcome is committed
on its own right after the sender returns, so a worker killed mid-batch leaves at most the
message in flight ambiguous; its lease expires and it is sent again with the same Message-ID.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.notifications.models import OutboxMessage, OutboxStatus
from ownwell.notifications.senders import DeliveryError, Outgoing, Sender

log = logging.getLogger("ownwell.delivery")

PENDING = (OutboxStatus.queued, OutboxStatus.retrying)


def backoff(attempts: int, base_s: float) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: a dead server is not hammered."""
    return timedelta(seconds=min(base_s * 2 ** max(attempts - 1, 0), 3600))


def claim(
    session: Session, *, now: datetime, channels: set[str], limit: int, lease: timedelta
) -> list[Outgoing]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.status.in_(PENDING),
            OutboxMessage.channel.in_(channels),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.claimed_until = now + lease
    session.flush()
    return [
        Outgoing(
            id=r.id,
            channel=r.channel,
            recipient=r.recipient,
            subject=r.subject,
            body=r.body,
            kind=r.kind,
            case_id=r.case_id,
            created_at=r.created_at,
        )
        for r in rows
    ]


_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
_RECORD = update(OutboxMessage).where(
    OutboxMessage.id == bindparam("message_id"), OutboxMessage.status.in_(PENDING)
)


def _record(connection: Connection, message_id: str, values: dict[str, object]) -> None:
    if connection.dialect.name == "postgresql":
        # Losing this commit only if PostgreSQL itself crashes means a resend with the same
        # Message-ID, never a loss; not waiting for the disk keeps delivery fast.
        connection.execute(_ASYNC_COMMIT)
    connection.execute(
        _RECORD.values(attempts=OutboxMessage.attempts + 1, claimed_until=None, **values),
        {"message_id": message_id},
    )


def deliver_batch(
    factory: sessionmaker[Session],
    *,
    senders: Mapping[str, Sender],
    clock: Clock,
    settings: Settings,
    limit: int | None = None,
) -> int:
    """Deliver up to `limit` due messages; returns how many were handled (sent or not)."""
    if not senders:
        return 0
    engine = factory.kw["bind"]
    lease = timedelta(seconds=settings.delivery_lease_s)
    # Stop early rather than send on an expired claim: another worker may own it by then.
    stop_at = time.monotonic() + settings.delivery_lease_s * 0.8
    with unit_of_work(factory) as session:
        batch = claim(
            session,
            now=clock.now(),
            channels=set(senders),
            limit=limit or settings.delivery_batch,
            lease=lease,
        )
    for message in batch:
        if time.monotonic() > stop_at:
            log.info("lease running out; leaving %s and the rest of the batch to the next sweep", message.id)
            break
        try:
            senders[message.channel].send(message)
        except DeliveryError as exc:
            _failed(factory, message, exc, clock=clock, settings=settings)
            continue
        except Exception as exc:  # a sender bug must not stop the batch
            log.exception("sender for %s crashed on %s", message.channel, message.id)
            _failed(factory, message, DeliveryError(repr(exc)), clock=clock, settings=settings)
            continue
        # A bare connection, not a Session: this runs once per message on the hot path.
        with engine.begin() as connection:
            _record(
                connection,
                message.id,
                {"status": OutboxStatus.sent, "sent_at": clock.now(), "last_error": None},
            )
    return len(batch)


def _failed(
    factory: sessionmaker[Session], message: Outgoing, exc: DeliveryError, *, clock: Clock, settings: Settings
) -> None:
    now = clock.now()
    with unit_of_work(factory) as session:
        attempts = session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message.id)) or 0
        attempts += 1
        if exc.permanent or attempts >= settings.delivery_max_attempts:
            values: dict[str, object] = {"status": OutboxStatus.failed, "last_error": str(exc)[:2000]}
            # By id only: the recipient is a customer's address; the outbox row has it.
            log.warning("message %s failed for good after %d attempt(s): %s", message.id, attempts, exc)
        else:
            values = {
                "status": OutboxStatus.retrying,
                "last_error": str(exc)[:2000],
                "next_attempt_at": now + backoff(attempts, settings.delivery_backoff_s),
            }
            log.info("message %s will be retried (attempt %d): %s", message.id, attempts, exc)
        _record(session.connection(), message.id, values)


def deliver_all(
    factory: sessionmaker[Session],
    *,
    senders: Mapping[str, Sender],
    clock: Clock,
    settings: Settings,
    max_batches: int = 20,
    budget_s: float | None = None,
) -> int:
    """Drain what is due now, in batches, then close connections. With `budget_s`, no new batch
    starts once that many seconds have passed, so a backlog never holds the timers up for long."""
    total = 0
    started = time.monotonic()
    try:
        for _ in range(max_batches):
            handled = deliver_batch(factory, senders=senders, clock=clock, settings=settings)
            total += handled
            if handled == 0 or (budget_s is not None and time.monotonic() - started >= budget_s):
                break
    finally:
        for sender in senders.values():
            sender.close()
    return total


def release_held(session: Session, *, settings: Settings, now: datetime) -> int:
    """Messages held for want of a server go out once one is configured."""
    channels = [c for c, on in (("email", settings.smtp_host), ("webhook", settings.webhook_url)) if on]
    if not channels:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.held, OutboxMessage.channel.in_(channels))
        .values(status=OutboxStatus.queued)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
