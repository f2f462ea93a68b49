"""Fanning an incident message out to every affected customer.

Per chunk of CHUNK customers: two set-based reads (customers with their preferences and
concierge; their first e-mail and phone), one routing decision per customer with the very
rules a single message uses (notifications.rules), and one Core executemany into the outbox.
No ORM object per customer: 100,000 customers are queued in seconds. Each row's idempotency
key is (incident, update, customer), and duplicates are skipped, so replaying is harmless."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import literal_column
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.customers.models import Channel
from ownwell.incidents import repository, rules
from ownwell.incidents.models import Incident, IncidentUpdate
from ownwell.kit.ids import new_id
from ownwell.notifications import render
from ownwell.notifications import rules as routing
from ownwell.notifications.models import OutboxMessage
from ownwell.notifications.outbox import initial_status


def _known_zone(name: str, fallback: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback
    return name


def _message_row(
    recipient: Any,
    contacts: tuple[str | None, str | None],
    *,
    incident: Incident,
    update: IncidentUpdate,
    zone: str,
    hear_next: str,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """The columns of one outbox row that differ from customer to customer."""
    email, phone = contacts
    channel, address = routing.choose_route(
        Channel(recipient.preferred_channel),
        emails=[email] if email else [],
        phones=[phone] if phone else [],
        customer_id=recipient.customer_id,
    )
    not_before = routing.quiet_until(now, start=recipient.quiet_start, end=recipient.quiet_end, zone=zone)
    subject, body = render.incident_message(
        customer_name=recipient.name,
        title=incident.title,
        message=update.message,
        concierge_name=recipient.concierge_name,
        hear_next=hear_next,
        first=update.number == 1,
    )
    return {
        "id": new_id("msg"),
        "idempotency_key": rules.message_key(incident.id, update.number, recipient.customer_id),
        "channel": channel.value,
        "recipient": address,
        "recipient_customer_id": recipient.customer_id,
        "subject": subject,
        "body": body,
        "status": initial_status(channel, settings).value,
        "next_attempt_at": not_before or now,
    }


def fan_out(
    session: Session, *, update: IncidentUpdate, now: datetime, settings: Settings, budget: int
) -> int:
    """Queue `update` for up to `budget` more customers, in customer id order from where the
    last call stopped; marks it fanned out once nobody is left. Returns customers handled."""
    incident = session.get_one(Incident, update.incident_id)
    # Sent once per statement, not once per row; the columns left out stay empty (NULL).
    same = {
        "kind": "incident_notice" if update.number == 1 else "incident_update",
        "headers": literal_column("'{}'"),
        "attempts": literal_column("0"),
        "created_at": now,
    }
    # Per time zone, once: the zone itself (a customer's unknown zone must not hold up the
    # other 99,999 messages: theirs is written in the organisation's) and "when you will hear
    # from us next" in it.
    zones: dict[str, tuple[str, str]] = {}
    todo = repository.member_ids(session, incident.id, after=update.fanout_after, limit=budget)
    for part in repository.chunks(todo):
        first, last = part[0], part[-1]
        contacts = repository.first_contacts(session, incident.id, first=first, last=last)
        rows = []
        for recipient in repository.recipients(session, incident.id, first=first, last=last):
            if recipient.do_not_contact:
                update.not_contacted += 1
                continue
            if recipient.timezone not in zones:
                zone = _known_zone(recipient.timezone, settings.timezone)
                zones[recipient.timezone] = zone, render.local_time(update.next_update_due, zone)
            zone, hear_next = zones[recipient.timezone]
            rows.append(
                _message_row(
                    recipient,
                    contacts.get(recipient.customer_id, (None, None)),
                    incident=incident,
                    update=update,
                    zone=zone,
                    hear_next=hear_next,
                    now=now,
                    settings=settings,
                )
            )
        outbox = OutboxMessage.__table__
        repository.bulk_insert(session, outbox, rows, same=same, unique="idempotency_key")  # type: ignore[arg-type]
        update.fanout_after = last
    if len(todo) < budget:
        update.fanned_out_at = now
    session.flush()
    return len(todo)
