"""Pure rules of incidents: groups and their concierges, the next promised update, keys."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

# Overcommunicate (P11): without a date given, customers hear from us again within hours.
DEFAULT_UPDATE_EVERY = timedelta(hours=4)


def groups(
    customer_ids: Sequence[str], concierge_ids: Sequence[str], size: int
) -> Iterator[tuple[str, int, str]]:
    """(customer, group number from 1, concierge) in input order: consecutive runs of `size`
    customers form a group, and groups go round-robin over the concierges."""
    for index, customer_id in enumerate(customer_ids):
        group = index // size
        yield customer_id, group + 1, concierge_ids[group % len(concierge_ids)]


def group_count(affected: int, size: int) -> int:
    return -(-affected // size)


def next_update_due(now: datetime, promised: datetime | None) -> datetime:
    return promised if promised is not None else now + DEFAULT_UPDATE_EVERY


def message_key(incident_id: str, number: int, customer_id: str) -> str:
    """The outbox idempotency key: one message per customer per update, however often replayed."""
    return f"incident:{incident_id}:{number}:{customer_id}"
