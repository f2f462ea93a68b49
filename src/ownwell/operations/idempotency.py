"""`Idempotency-Key` on writes a client may retry (`POST /cases`, `POST /cases/{id}/messages`).

The first request with a key claims it by inserting its row at the start of its transaction and
stores what it made (the case's id, never the customer's words) in the same transaction, so
"answered" and "stored" are one fact. A repeat (the client lost the answer, a proxy retried) is
answered with that case and writes nothing. Two
requests racing with one key meet on the row's primary key: the second waits for the first's
transaction, then finds its answer. Keys are kept for a day (`forget_old_keys`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ownwell.config import Settings
from ownwell.errors import Conflict, InvalidInput
from ownwell.operations.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)


def checked_key(value: str | None) -> str | None:
    """The header's value, or None when absent; refused unless 1-255 visible ASCII characters."""
    if value is None:
        return None
    if not 0 < len(value) <= 255 or not all(33 <= ord(c) <= 126 for c in value):
        raise InvalidInput("must be 1 to 255 visible ASCII characters, e.g. a UUID", field=HEADER)
    return value


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


def claim(
    session: Session, *, staff_id: str, key: str, request_fingerprint: str, now: datetime
) -> dict[str, Any] | None:
    """Claim `key` for this request, or return the answer its first request got."""
    try:
        with session.begin_nested():
            session.add(
                IdempotencyKey(staff_id=staff_id, key=key, fingerprint=request_fingerprint, created_at=now)
            )
    except IntegrityError:
        pass  # someone had it: their transaction has ended by now, read what it left
    else:
        return None
    earlier = session.scalars(
        select(IdempotencyKey)
        .where(IdempotencyKey.staff_id == staff_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    ).one()
    if earlier.fingerprint != request_fingerprint:
        raise InvalidInput(
            "this key was used for a different request; use a new key for a new request", field=HEADER
        )
    if earlier.answer is None:
        raise Conflict(
            "the first request with this key has not finished; try again in a moment", field=HEADER
        )
    return earlier.answer


def remember(session: Session, *, staff_id: str, key: str, answer: dict[str, Any]) -> None:
    row = session.get(IdempotencyKey, (staff_id, key))
    assert row is not None, "claim() first"
    row.answer = answer
    session.flush()


def forget_old_keys(session: Session, *, now: datetime, settings: Settings) -> int:
    """The worker's job: a key older than a day no longer protects against a repeat."""
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
