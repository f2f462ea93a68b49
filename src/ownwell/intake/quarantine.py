"""Holding mail we could not take: stored whole with the reason, for an admin to look at.
Writes in the caller's transaction; flushes, never commits."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.intake import rules
from ownwell.intake.models import InboundMail, MailSource, QuarantinedMail, QuarantineStatus
from ownwell.intake.parse import clean
from ownwell.kit.ids import new_id

log = logging.getLogger("ownwell.intake")


def hold(
    session: Session,
    *,
    raw: bytes,
    reason: str,
    source: MailSource,
    envelope_from: str | None,
    envelope_rcpts: list[str] | None,
    now: datetime,
) -> QuarantinedMail:
    """Keep the message exactly as received. Headers are read from the bytes, not parsed:
    this mail may be what the email package could not parse."""
    ident = rules.message_id(raw)
    row = QuarantinedMail(
        id=new_id("qml"),
        received_at=now,
        source=source,
        envelope_from=clean(envelope_from, 320) if envelope_from is not None else None,
        envelope_to=[clean(r, 320) for r in (envelope_rcpts or [])][:50],
        message_id=ident[: rules.MAX_KEY] if ident else None,
        subject=rules.raw_header(raw, "Subject"),
        reason=clean(reason, 2000),
        size=len(raw),
        status=QuarantineStatus.held,
        raw=raw,
    )
    session.add(row)
    session.flush()
    log.warning("quarantined %d-byte mail %s (%s): %s", len(raw), row.id, source, row.reason)
    return row


def record_received(
    session: Session,
    *,
    message_key: str,
    source: MailSource,
    outcome: str,
    now: datetime,
    case_id: str | None = None,
    quarantine_id: str | None = None,
) -> InboundMail:
    """Remember this message was taken, so its next delivery does nothing."""
    row = InboundMail(
        id=new_id("inm"),
        message_key=message_key,
        source=source,
        outcome=outcome,
        case_id=case_id,
        quarantine_id=quarantine_id,
        received_at=now,
    )
    session.add(row)
    session.flush()
    return row
