"""Signed, expiring portal links. The expiry is business time, so it comes from the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer

# Each kind of link is signed with its own salt, so a token made for one kind never reads as
# another (a 60-day feedback link must not open the whole portal).
PORTAL_SALT = "ownwell.portal"


@dataclass(frozen=True)
class PortalGrant:
    customer_id: str
    case_id: str | None
    expires_at: datetime


def make_token(
    secret: str,
    *,
    customer_id: str,
    case_id: str | None,
    expires_at: datetime,
    salt: str = PORTAL_SALT,
) -> str:
    payload = {"c": customer_id, "k": case_id, "e": int(expires_at.timestamp())}
    return URLSafeSerializer(secret, salt=salt).dumps(payload)


def read_token(secret: str, token: str, *, now: datetime, salt: str = PORTAL_SALT) -> PortalGrant | None:
    """The grant a token carries, or None when it is forged, tampered with, expired, or signed
    for another kind of link (another salt)."""
    try:
        payload = URLSafeSerializer(secret, salt=salt).loads(token)
        grant = PortalGrant(
            customer_id=str(payload["c"]),
            case_id=payload["k"],
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return grant if grant.expires_at > now else None


def portal_url(
    base_url: str, secret: str, *, customer_id: str, case_id: str, now: datetime, days: int
) -> str:
    # Rounded to the day, so the same case gives the same link all day long (and it is signed
    # once, not on every response that shows it).
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return _signed_url(base_url, secret, customer_id, case_id, day, days)


@lru_cache(maxsize=8192)
def _signed_url(base_url: str, secret: str, customer_id: str, case_id: str, day: datetime, days: int) -> str:
    token = make_token(
        secret, customer_id=customer_id, case_id=case_id, expires_at=day + timedelta(days=days + 1)
    )
    return f"{base_url}/portal/{token}"
