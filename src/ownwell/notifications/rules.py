"""Pure rules of delivery: which channel reaches a customer, and when quiet hours end."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ownwell.customers.models import Channel


def choose_route(
    preferred: Channel, *, emails: list[str], phones: list[str], customer_id: str
) -> tuple[Channel, str]:
    """The preferred channel if usable, else e-mail, else a phone gateway, else the portal."""
    if preferred == Channel.email and emails:
        return Channel.email, emails[0]
    if preferred == Channel.webhook and phones:
        return Channel.webhook, phones[0]
    if preferred == Channel.portal:
        return Channel.portal, customer_id
    if emails:
        return Channel.email, emails[0]
    if phones:
        return Channel.webhook, phones[0]
    return Channel.portal, customer_id


def quiet_until(now: datetime, *, start: str | None, end: str | None, zone: str) -> datetime | None:
    """When the customer's quiet hours end, if `now` falls inside them; else None."""
    if not start or not end or start == end:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    start_t = time.fromisoformat(start)
    end_t = time.fromisoformat(end)
    current = local.time()
    if start_t < end_t:
        inside = start_t <= current < end_t
        end_day = local.date()
    else:  # the window crosses midnight, e.g. 22:00 to 07:00
        inside = current >= start_t or current < end_t
        end_day = local.date() + timedelta(days=1) if current >= start_t else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end_t, tzinfo=tz).astimezone(now.tzinfo)
