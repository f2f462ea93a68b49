"""The signature on every webhook we send, Stripe-style, so a receiver can trust a request and
refuse a replayed one:

    Ownwell-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The receiver recomputes v1 over the raw body with the shared secret, compares in constant time,
and refuses a `t` further than a few minutes from its own clock (`verify` does all three)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Ownwell-Signature"
# How far a receiver should let the timestamp be from its own clock, either way.
TOLERANCE_S = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature(secret: str, body: bytes, *, timestamp: int) -> str:
    """The value of the `Ownwell-Signature` header for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance_s` of `now`."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
