"""enqueue(): the one way to say something to someone. It writes a row; the worker sends it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.customers.models import Channel, Customer
from ownwell.db import add_new_row
from ownwell.kit.ids import new_id
from ownwell.notifications import rules
from ownwell.notifications.models import OutboxMessage, OutboxStatus


def initial_status(channel: Channel, settings: Settings) -> OutboxStatus:
    # With no SMTP server configured, e-mail is held (visible in the UI), never dropped.
    if channel == Channel.email and not settings.smtp_host:
        return OutboxStatus.held
    if channel == Channel.webhook and not settings.webhook_url:
        return OutboxStatus.held
    return OutboxStatus.queued


def enqueue(
    session: Session,
    *,
    key: str,
    channel: Channel,
    recipient: str,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    settings: Settings,
    case_id: str | None = None,
    customer_id: str | None = None,
    staff_id: str | None = None,
    not_before: datetime | None = None,
    headers: dict[str, Any] | None = None,
    fresh: bool = False,
) -> OutboxMessage:
    """Queue one message in the caller's transaction; the same key never queues twice.
    A key built from a row created in this same transaction is `fresh` and skips the look-up
    (the unique index still guards it)."""
    existing = None if fresh else _queued(session, key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        **_values(
            key=key,
            channel=channel,
            recipient=recipient,
            kind=kind,
            subject=subject,
            body=body,
            created_at=now,
            status=initial_status(channel, settings),
            case_id=case_id,
            customer_id=customer_id,
            staff_id=staff_id,
            not_before=not_before,
            headers=headers,
        )
    )
    session.add(message)
    return message


def _queued(session: Session, key: str) -> OutboxMessage | None:
    return session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one_or_none()


def _values(
    *,
    key: str,
    channel: Channel,
    recipient: str,
    kind: str,
    subject: str,
    body: str,
    created_at: datetime,
    status: OutboxStatus,
    case_id: str | None,
    customer_id: str | None,
    staff_id: str | None,
    not_before: datetime | None,
    headers: dict[str, Any] | None,
) -> dict[str, Any]:
    """A new message's columns."""
    return {
        "id": new_id("msg"),
        "idempotency_key": key,
        "case_id": case_id,
        "channel": channel,
        "recipient": recipient,
        "recipient_customer_id": customer_id,
        "recipient_staff_id": staff_id,
        "kind": kind,
        "subject": subject,
        "body": body,
        "headers": headers or {},
        "status": status,
        "attempts": 0,
        "next_attempt_at": not_before or created_at,
        "created_at": created_at,
    }


def enqueue_to_customer(
    session: Session,
    *,
    customer: Customer,
    emails: list[str],
    phones: list[str],
    key: str,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    settings: Settings,
    case_id: str | None = None,
    fresh: bool = False,
) -> bool:
    """Queue a message by the customer's preferences; False when they asked not to be contacted.
    A `fresh` key (see `enqueue`) in group commit's shared block goes as a plain new row
    (db.add_new_row), without an ORM object."""
    if customer.do_not_contact:
        return False
    channel, recipient = rules.choose_route(
        customer.preferred_channel, emails=emails, phones=phones, customer_id=customer.id
    )
    not_before = rules.quiet_until(
        now, start=customer.quiet_start, end=customer.quiet_end, zone=customer.timezone
    )
    values = _values(
        key=key,
        channel=channel,
        recipient=recipient,
        kind=kind,
        subject=subject,
        body=body,
        created_at=now,
        status=initial_status(channel, settings),
        case_id=case_id,
        customer_id=customer.id,
        staff_id=None,
        not_before=not_before,
        headers=None,
    )
    if fresh and add_new_row(session, OutboxMessage.__table__, values):
        return True
    if fresh or _queued(session, key) is None:  # the same key never queues twice, as in `enqueue`
        session.add(OutboxMessage(**values))
    return True


def enqueue_to_staff(
    session: Session,
    *,
    staff_id: str,
    email: str,
    key: str,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    settings: Settings,
    case_id: str | None = None,
) -> OutboxMessage:
    """Reminders and escalations reach staff by e-mail (and stay on their agenda)."""
    return enqueue(
        session,
        key=key,
        channel=Channel.email,
        recipient=email,
        kind=kind,
        subject=subject,
        body=body,
        now=now,
        settings=settings,
        case_id=case_id,
        staff_id=staff_id,
    )
