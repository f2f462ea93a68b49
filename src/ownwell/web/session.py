"""Staff sign-in for the web app: server-side sessions, the signed-in person as a dependency,
and CSRF tokens for every form.

A page handler takes `ctx: StaffPage` (GET) or `ctx: StaffForm` (POST; the CSRF token is
checked before the handler runs). Not signed in → a redirect to /login that comes back here."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from ownwell.clock import Clock
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.errors import Forbidden
from ownwell.staff.models import Staff
from ownwell.web import templates
from ownwell.web.csrf import csrf_ok, csrf_token
from ownwell.web.models import WebSession

COOKIE = "ow_session"
IDLE = timedelta(hours=12)
ABSOLUTE = timedelta(days=7)
# Refresh last_seen/expiry at most this often, so reading pages does not write on every request.
TOUCH_EVERY = timedelta(minutes=5)
CSRF_HEADER = "x-csrf-token"


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def start_session(session: Session, *, staff: Staff, now: datetime) -> str:
    """A new session for `staff`; returns the cookie value (only its hash is stored)."""
    cookie = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_hash(cookie),
            staff_id=staff.id,
            csrf_secret=secrets.token_hex(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + IDLE,
        )
    )
    session.flush()
    return cookie


def end_session(session: Session, *, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == _hash(cookie)))


def end_sessions_of(session: Session, *, staff_id: str) -> int:
    """Sign a staff member out everywhere (a password reset, deactivation); returns how many."""
    result = session.execute(delete(WebSession).where(WebSession.staff_id == staff_id))
    return int(result.rowcount or 0)


def find_session(session: Session, *, cookie: str, now: datetime) -> tuple[WebSession, Staff] | None:
    if not cookie or len(cookie) > 100:
        return None
    found = session.scalars(select(WebSession).where(WebSession.id == _hash(cookie))).one_or_none()
    if found is None or found.expires_at <= now:
        return None
    staff = session.scalars(
        select(Staff)
        .where(Staff.id == found.staff_id, Staff.active.is_(True))
        .options(selectinload(Staff.departments))
    ).one_or_none()
    if staff is None:  # deactivated (their sessions were ended then; this is the second lock)
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
        found.expires_at = min(now + IDLE, found.created_at + ABSOLUTE)
    return found, staff


def staff_csrf(settings: Settings, web_session: WebSession) -> str:
    return csrf_token(settings.resolved_secret_key(), f"staff:{web_session.csrf_secret}")


@dataclass
class WebCtx:
    """What a staff page handler gets: one transaction, one instant, the signed-in person."""

    request: Request
    session: Session
    actor: Staff
    now: datetime
    settings: Settings
    web_session: WebSession
    csrf: str = field(default="")

    def render(
        self, template: str, context: Mapping[str, Any] | None = None, *, status_code: int = 200
    ) -> Response:
        base = {"me": self.actor, "csrf": self.csrf, "now": self.now, "tz": self.settings.timezone}
        return templates.TemplateResponse(
            self.request, template, {**base, **(context or {})}, status_code=status_code
        )


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _web_context(request: Request) -> Iterator[WebCtx]:
    state = request.app.state
    clock: Clock = state.clock
    now = clock.now()
    with unit_of_work(state.session_factory) as session:
        found = find_session(session, cookie=request.cookies.get(COOKIE, ""), now=now)
        if found is None:
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(path if request.method == "GET" else "/")
        web_session, staff = found
        yield WebCtx(
            request=request,
            session=session,
            actor=staff,
            now=now,
            settings=state.settings,
            web_session=web_session,
            csrf=staff_csrf(state.settings, web_session),
        )


# scope="function": commit before the response is sent, so a redirect after a form means "stored".
StaffPage = Annotated[WebCtx, Depends(_web_context, scope="function")]


def _form_context(ctx: StaffPage, csrf: Annotated[str | None, Form(max_length=200)] = None) -> WebCtx:
    token = csrf or ctx.request.headers.get(CSRF_HEADER)
    if not csrf_ok(ctx.settings.resolved_secret_key(), f"staff:{ctx.web_session.csrf_secret}", token):
        raise Forbidden("this form has expired or was not sent from our page; reload the page and try again")
    return ctx


# For POST handlers: signed in AND the form carries this session's CSRF token.
StaffForm = Annotated[WebCtx, Depends(_form_context)]


def safe_next(value: str | None) -> str:
    """Only a path on this site: never '//evil.example' or 'https://…'."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def install_sign_in_redirect(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _to_login(request: Request, exc: SignInRequired) -> Response:
        target = "/login" + (f"?next={quote(exc.next_path, safe='/')}" if exc.next_path != "/" else "")
        if request.headers.get("hx-request"):
            # HTMX follows this header with a full page load instead of swapping in the login form.
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
