"""Sign in and out of the staff web app (argon2 passwords, back-off per client address)."""

from __future__ import annotations

import math
import secrets
import threading
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.db import unit_of_work
from ownwell.errors import Forbidden
from ownwell.staff import service
from ownwell.staff.signin_throttle import Attempt, SignInThrottle
from ownwell.web import templates
from ownwell.web.csrf import csrf_ok, csrf_token
from ownwell.web.session import COOKIE, StaffForm, end_session, find_session, safe_next, start_session

router = APIRouter(include_in_schema=False)
# Before sign-in there is no session to bind the CSRF token to; a random cookie stands in.
LOGIN_COOKIE = "ow_login"


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.base_url.startswith("https:"))


def _login_page(
    request: Request, *, next_path: str, email: str = "", error: str = "", status_code: int = 200
) -> Response:
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    fresh = len(cookie) < 32
    if fresh:
        cookie = secrets.token_urlsafe(32)
    secret = request.app.state.settings.resolved_secret_key()
    response = templates.TemplateResponse(
        request,
        "staff/login.html",
        {
            "csrf": csrf_token(secret, f"login:{cookie}"),
            "next": next_path,
            "email": email,
            "error": error,
        },
        status_code=status_code,
    )
    if fresh:
        response.set_cookie(
            LOGIN_COOKIE, cookie, httponly=True, samesite="lax", secure=_secure(request), path="/login"
        )
    return response


_THROTTLE_MADE = threading.Lock()


def _throttle(request: Request) -> SignInThrottle:
    """The app's sign-in back-off (one per app, kept in this process: see signin_throttle)."""
    state = request.app.state
    with _THROTTLE_MADE:
        if getattr(state, "signin_throttle", None) is None:
            state.signin_throttle = SignInThrottle()
    return state.signin_throttle  # type: ignore[no-any-return]


def _client_ip(request: Request) -> str:
    # The peer address; behind a reverse proxy, run uvicorn with --forwarded-allow-ips so that
    # this is the client's address and not the proxy's.
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    state = request.app.state
    with unit_of_work(state.session_factory) as session:
        signed_in = find_session(session, cookie=request.cookies.get(COOKIE, ""), now=state.clock.now())
    if signed_in is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    state = request.app.state
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not csrf_ok(state.settings.resolved_secret_key(), f"login:{cookie}", csrf):
        raise Forbidden("this form has expired or was not sent from our page; please open it again")
    next_path = safe_next(next)
    if not email.strip() or not password:
        return _login_page(
            request,
            next_path=next_path,
            email=email,
            error="Please give your e-mail address and your password.",
            status_code=422,
        )
    now = state.clock.now()
    attempt = _throttle(request).begin(ip=_client_ip(request), email=service.sign_in_key(email), now=now)
    if not isinstance(attempt, Attempt):
        # The same for every e-mail address, known or not: it is this IP address that waits.
        minutes = max(1, math.ceil((attempt - now).total_seconds() / 60))
        error = f"Too many failed sign-ins from your network. Please wait {minutes} minutes and try again."
        page = _login_page(request, next_path=next_path, email=email, error=error, status_code=429)
        page.headers["Retry-After"] = str(max(1, math.ceil((attempt - now).total_seconds())))
        return page
    with unit_of_work(state.session_factory) as session:
        staff = service.sign_in(session, email=email, password=password)
        session_cookie = start_session(session, staff=staff, now=now) if staff else None
    if session_cookie is None:
        # An unknown address, a wrong password and a deactivated account look the same.
        error = "That e-mail address and password do not match. Please try again."
        return _login_page(request, next_path=next_path, email=email, error=error, status_code=401)
    _throttle(request).succeeded(attempt)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE, session_cookie, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    return response


@router.post("/logout")
def logout(ctx: StaffForm) -> Response:
    end_session(ctx.session, cookie=ctx.request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
