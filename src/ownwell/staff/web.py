"""Sign in and out of the staff web app (argon2 passwords, lockout after repeated failures)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.db import unit_of_work
from ownwell.errors import Forbidden
from ownwell.notifications.render import local_time
from ownwell.staff import service
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
    # Committed whatever the outcome: a failed attempt must count towards the lockout.
    with unit_of_work(state.session_factory) as session:
        outcome = service.sign_in(session, email=email, password=password, now=now)
        session_cookie = start_session(session, staff=outcome.staff, now=now) if outcome.staff else None
    if outcome.locked_until is not None:
        until = local_time(outcome.locked_until, state.settings.timezone)
        error = f"Too many wrong passwords. Sign-in for this account is paused until {until}."
        return _login_page(request, next_path=next_path, email=email, error=error, status_code=429)
    if session_cookie is None:
        error = "That e-mail address and password do not match. Please try again."
        return _login_page(request, next_path=next_path, email=email, error=error, status_code=401)
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
