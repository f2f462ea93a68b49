"""CSRF tokens bound to what a form is about (a session, or a signed customer link)."""

from __future__ import annotations

import hashlib
import hmac


def csrf_token(secret: str, scope: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{scope}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, scope: str, value: str | None) -> bool:
    return bool(value) and hmac.compare_digest(csrf_token(secret, scope), value or "")
