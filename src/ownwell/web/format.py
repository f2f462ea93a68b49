"""Jinja filters for staff pages: times in the organisation's zone, and how far off they are."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SOON = timedelta(hours=2)


def when(moment: datetime | None, zone: str = "UTC") -> str:
    """'Mon 2 Mar, 09:00' in the organisation's time zone; '' for no time."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def relative(moment: datetime | None, now: datetime) -> str:
    """'in 3 h', '20 min overdue'. For due times: the past is overdue, not 'ago'."""
    if moment is None:
        return ""
    delta = moment - now
    if abs(delta) < timedelta(minutes=1):
        return "now"
    return f"in {_span(delta)}" if delta > timedelta(0) else f"{_span(delta)} overdue"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    delta = now - moment
    return "just now" if delta < timedelta(minutes=1) else f"{_span(delta)} ago"


def urgency(moment: datetime | None, now: datetime) -> str:
    """A CSS class: 'overdue', 'soon' (within two hours) or ''."""
    if moment is None:
        return ""
    if moment < now:
        return "overdue"
    return "soon" if moment - now <= SOON else ""


def words(value: str) -> str:
    """An enum value as words: 'waiting_on_customer' → 'waiting on customer'."""
    return str(value).replace("_", " ")
