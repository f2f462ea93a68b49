"""The public help form (P7): the customer's e-mail and, in their own words, what happened; an
order number if they have one at hand. It opens a case through the same services as e-mail
intake, so a returning customer is recognised and never asked again for what we know.

Anyone can type anyone's address, so the answer is the same page whatever the address (known,
unknown, new): no name, no owner, no link to the case. The link to the case goes only in the
acknowledgement, by e-mail, and the case is marked "unverified sender" for staff until the
customer answers from their address (cases.service.confirm_sender)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from ownwell.cases.models import CaseChannel, CaseKind
from ownwell.cases.service import open_case
from ownwell.customers import service as customer_service
from ownwell.customers.schemas import CustomerIn
from ownwell.db import unit_of_work
from ownwell.errors import AppError, Forbidden
from ownwell.intake.ratelimit import SlidingWindow
from ownwell.orders import repository as order_repository
from ownwell.web import templates
from ownwell.web.csrf import csrf_ok, csrf_token

router = APIRouter(include_in_schema=False)
CSRF_COOKIE = "ow_csrf"
WINDOW = timedelta(minutes=10)
PER_ADDRESS = 5
PER_IP = 20
MAX_WORDS = 10_000


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"


def _limits(request: Request) -> tuple[SlidingWindow, SlidingWindow]:
    state = request.app.state
    if not hasattr(state, "help_limits"):
        state.help_limits = (SlidingWindow(PER_ADDRESS, WINDOW), SlidingWindow(PER_IP, WINDOW))
    return state.help_limits


def _scope(cookie: str) -> str:
    return f"help:{cookie}"


def _form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    fresh = len(cookie) < 32
    if fresh:
        cookie = secrets.token_urlsafe(32)
    secret = request.app.state.settings.resolved_secret_key()
    response = templates.TemplateResponse(
        request,
        "help/form.html",
        {"csrf": csrf_token(secret, _scope(cookie)), "values": values or {}, "errors": errors or {}},
        status_code=status_code,
    )
    if fresh:
        secure = request.app.state.settings.base_url.startswith("https:")
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="lax", secure=secure, path="/help")
    return response


@router.get("/help", response_class=HTMLResponse)
def help_form(request: Request) -> Response:
    return _form(request)


def _validate(email: str, what: str) -> tuple[CustomerIn | None, dict[str, str]]:
    errors: dict[str, str] = {}
    data = None
    if not email:
        errors["email"] = "Please give your e-mail address, so that we can answer you."
    else:
        try:
            data = CustomerIn(emails=[email])
        except ValidationError:
            errors["email"] = "This does not look like an e-mail address; please check it."
    if not what.strip():
        errors["what"] = "Please tell us in a few words what happened."
    elif len(what) > MAX_WORDS:
        errors["what"] = f"Please keep it under {MAX_WORDS:,} characters."
    elif "\x00" in what:
        errors["what"] = "This text contains a character we cannot keep; please retype it."
    return data, errors


@router.post("/help", response_class=HTMLResponse)
def submit_help(
    request: Request,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    email: Annotated[str, Form(max_length=320)] = "",
    what: Annotated[str, Form(max_length=MAX_WORDS * 2)] = "",
    order: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    state = request.app.state
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie or not csrf_ok(state.settings.resolved_secret_key(), _scope(cookie), csrf):
        raise Forbidden("this form has expired or was not sent from our page; please open it again")
    email, order = email.strip(), order.strip()
    values = {"email": email, "what": what, "order": order}
    data, errors = _validate(email, what)
    if data is None or errors:
        return _form(request, values=values, errors=errors, status_code=422)
    now = state.clock.now()
    by_address, by_ip = _limits(request)
    address, ip = data.emails[0], request.client.host if request.client else "unknown"
    if not by_address.allows(address, now) or not by_ip.allows(ip, now):
        raise TooManyRequests(
            "We have received several requests from you in the last few minutes. "
            "Please wait ten minutes before sending another; we are already on the ones you sent."
        )
    by_address.hit(address, now)
    by_ip.hit(ip, now)
    settings = state.settings
    with unit_of_work(state.session_factory) as session:
        customer = customer_service.recognise_or_create(
            session, data=data, now=now, default_timezone=settings.timezone, prefix=""
        )
        found = order_repository.by_external_id(session, order) if order else None
        mine = found if found is not None and found.customer_id == customer.id else None
        open_case(
            session,
            customer=customer,
            subject=None,
            body=what.strip(),
            kind=CaseKind.question,
            channel=CaseChannel.web,
            department_id=mine.department_id if mine else None,
            order_id=mine.id if mine else None,
            actor=None,
            now=now,
            settings=settings,
            unverified_sender=True,
        )
    # Only what the visitor typed comes back: whether the order is this customer's is not said.
    return templates.TemplateResponse(request, "help/thanks.html", {"email": email, "order": order})
