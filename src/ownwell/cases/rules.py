"""Pure rules of the cases domain: the status machine, cadence and subjects."""

from __future__ import annotations

from datetime import datetime, timedelta

from ownwell.cases.models import ACTIVE_STATUSES, CaseKind, CaseStatus

DEFAULT_CADENCE_MINUTES: dict[str, int] = {
    CaseKind.complaint: 24 * 60,
    CaseKind.request: 48 * 60,
    CaseKind.question: 24 * 60,
}

TRANSITIONS: dict[CaseStatus, set[CaseStatus]] = {
    CaseStatus.open: {CaseStatus.waiting_on_customer, CaseStatus.resolved},
    CaseStatus.waiting_on_customer: {CaseStatus.open, CaseStatus.resolved},
    CaseStatus.resolved: {CaseStatus.open, CaseStatus.closed},
    CaseStatus.closed: {CaseStatus.open},
}


def can_move(old: CaseStatus, new: CaseStatus) -> bool:
    return new in TRANSITIONS[CaseStatus(old)]


def is_active(status: CaseStatus) -> bool:
    return status in ACTIVE_STATUSES


def next_update_due(now: datetime, cadence_minutes: int) -> datetime:
    return now + timedelta(minutes=cadence_minutes)


def subject_from_body(body: str, limit: int = 80) -> str:
    """The customer's own first line, cut at a word, when they gave no subject."""
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    if len(first) <= limit:
        return first or "(no subject)"
    cut = first[:limit].rsplit(" ", 1)[0]
    return (cut or first[:limit]) + "…"
