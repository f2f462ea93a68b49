"""What every portal form shares: a double-submit CSRF token (a random cookie, and a hidden field
that is an HMAC of that cookie and what the form acts on), and friendly checks of typed input."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from ownwell.errors import Forbidden, InvalidInput
from ownwell.web.csrf import csrf_ok, csrf_token

CSRF_COOKIE = "ow_portal"


@dataclass
class PortalForm:
    cookie: str
    fresh: bool

    @classmethod
    def of(cls, request: Request) -> PortalForm:
        cookie = request.cookies.get(CSRF_COOKIE) or ""
        if len(cookie) < 32:
            return cls(cookie=secrets.token_urlsafe(32), fresh=True)
        return cls(cookie=cookie, fresh=False)

    def keep(self, request: Request, response: Response) -> None:
        if self.fresh:
            secure = request.app.state.settings.base_url.startswith("https:")
            response.set_cookie(
                CSRF_COOKIE, self.cookie, httponly=True, samesite="lax", secure=secure, path="/portal"
            )


def private_page(response: Response) -> None:
    """The link in the address bar is the customer's key: never pass it on as a referrer, never
    keep the page in a shared cache, never show it inside another site's frame."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"


def csrf_for(request: Request, scope: str, cookie: str) -> str:
    return csrf_token(request.app.state.settings.resolved_secret_key(), f"portal:{cookie}:{scope}")


def check_csrf(request: Request, scope: str, value: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    secret = request.app.state.settings.resolved_secret_key()
    if len(cookie) < 32 or not csrf_ok(secret, f"portal:{cookie}:{scope}", value):
        raise Forbidden(
            "this form has expired or was not sent from your case page; please open the page again",
            field="csrf",
        )


def text_error(text: str, limit: int, *, what: str, required: bool = True) -> str | None:
    """A sentence for the customer when the text cannot be kept as typed, else None."""
    if required and not text.strip():
        return f"Please write {what} first."
    if len(text) > limit:
        return f"Please keep {what} under {limit:,} characters (it has {len(text):,})."
    if "\x00" in text:
        return f"{what.capitalize()} contains a character we cannot keep; please retype it."
    return None


def score(raw: str, top: int, field: str) -> int | None:
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= top:
        raise InvalidInput(f"Please choose a number from 1 to {top}.", field=field)
    return int(raw)
