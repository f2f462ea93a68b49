"""An invalid or expired link leads here: the customer types their e-mail address and, if it is
one we know, fresh links to their cases are queued to it. The answer is the same whether or not
it matched, so the form tells nobody who our customers are; it is rate limited like /help."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ownwell.customers.rules import normalise_email
from ownwell.db import unit_of_work
from ownwell.errors import AppError
from ownwell.intake.ratelimit import SlidingWindow
from ownwell.portal import service
from ownwell.portal.forms import PortalForm, check_csrf, csrf_for
from ownwell.web import templates

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
SCOPE = "fresh-link"
WINDOW = timedelta(minutes=10)
PER_ADDRESS = 3
PER_IP = 20


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"


def _limits(request: Request) -> tuple[SlidingWindow, SlidingWindow]:
    state = request.app.state
    if not hasattr(state, "portal_link_limits"):
        state.portal_link_limits = (SlidingWindow(PER_ADDRESS, WINDOW), SlidingWindow(PER_IP, WINDOW))
    return state.portal_link_limits


def invalid_link_page(
    request: Request, *, email: str = "", error: str | None = None, status_code: int = 404
) -> Response:
    form = PortalForm.of(request)
    response = templates.TemplateResponse(
        request,
        "portal/invalid.html",
        {"csrf": csrf_for(request, SCOPE, form.cookie), "email": email, "error": error},
        status_code=status_code,
    )
    form.keep(request, response)
    return response


@router.post("/portal/fresh-link", response_class=HTMLResponse)
def ask_for_fresh_link(
    request: Request,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    check_csrf(request, SCOPE, csrf)
    email = email.strip()
    try:
        address = normalise_email(email)
    except ValueError:
        return invalid_link_page(
            request,
            email=email,
            error="This does not look like an e-mail address; please check it.",
            status_code=422,
        )
    state = request.app.state
    now = state.clock.now()
    by_address, by_ip = _limits(request)
    ip = request.client.host if request.client else "unknown"
    if not by_address.allows(address, now) or not by_ip.allows(ip, now):
        raise TooManyRequests(
            "We have received several requests for a fresh link in the last few minutes. "
            "Please check your inbox, or wait ten minutes before asking again."
        )
    by_address.hit(address, now)
    by_ip.hit(ip, now)
    with unit_of_work(state.session_factory) as session:
        sent = service.send_fresh_links(session, email=address, now=now, settings=state.settings)
    log.info("fresh portal link asked for; %s", "queued" if sent else "no customer or case matched")
    return templates.TemplateResponse(request, "portal/link_sent.html", {})
