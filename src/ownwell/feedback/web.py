"""The page behind the links in resolution and check-in e-mails: fixed or not, CSAT, CES."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from ownwell.cases import repository as case_repository
from ownwell.cases.models import CaseStatus
from ownwell.customers import repository as customer_repository
from ownwell.db import unit_of_work
from ownwell.errors import Forbidden, InvalidInput, NotFound
from ownwell.feedback.links import read_feedback_token
from ownwell.feedback.service import record_feedback
from ownwell.notifications.render import local_time
from ownwell.portal.fresh_link import invalid_link_page
from ownwell.web import templates
from ownwell.web.csrf import csrf_ok, csrf_token

router = APIRouter(include_in_schema=False)
SOURCES = ("confirm", "check_in", "portal")


def _grant(request: Request, token: str):  # type: ignore[no-untyped-def]
    settings = request.app.state.settings
    grant = read_feedback_token(settings.resolved_secret_key(), token, now=request.app.state.clock.now())
    if grant is None or grant.case_id is None:
        raise NotFound("this link is not valid or has expired; ask us for a fresh one")
    return grant


@router.get("/feedback/{token}", response_class=HTMLResponse)
def feedback_form(
    request: Request, token: str, source: str = "confirm", fixed: str | None = None
) -> Response:
    settings = request.app.state.settings
    grant = read_feedback_token(settings.resolved_secret_key(), token, now=request.app.state.clock.now())
    if grant is None or grant.case_id is None:
        # The same page as an expired portal link: nothing shown, a fresh link offered.
        return invalid_link_page(request)
    with unit_of_work(request.app.state.session_factory) as session:
        case = case_repository.get(session, grant.case_id)
        if case.customer_id != grant.customer_id:
            raise NotFound("this link is not valid")
        owner_name = case.owner.name
    secret = request.app.state.settings.resolved_secret_key()
    return templates.TemplateResponse(
        request,
        "feedback/form.html",
        {
            "case": case,
            "owner_name": owner_name,
            "source": source if source in SOURCES else "confirm",
            "preset_fixed": fixed if fixed in ("yes", "no") else None,
            "csrf": csrf_token(secret, token),
            "action": f"/feedback/{token}",
        },
    )


def _score(raw: str | None, top: int, field: str) -> int | None:
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= top:
        raise InvalidInput(f"{field} is a number from 1 to {top}", field=field)
    return int(raw)


@router.post("/feedback/{token}", response_class=HTMLResponse)
def submit_feedback(
    request: Request,
    token: str,
    csrf: Annotated[str | None, Form()] = None,
    source: Annotated[str, Form(max_length=20)] = "confirm",
    fixed: Annotated[str | None, Form(max_length=3)] = None,
    csat: Annotated[str | None, Form(max_length=2)] = None,
    ces: Annotated[str | None, Form(max_length=2)] = None,
    comment: Annotated[str | None, Form(max_length=4000)] = None,
) -> HTMLResponse:
    grant = _grant(request, token)
    state = request.app.state
    if not csrf_ok(state.settings.resolved_secret_key(), token, csrf):
        raise Forbidden("this form has expired; open the link from your e-mail again")
    if fixed not in (None, "", "yes", "no"):
        raise InvalidInput("fixed is yes or no", field="fixed")
    if comment and "\x00" in comment:
        raise InvalidInput("comment contains a NUL character", field="comment")
    now = state.clock.now()
    with unit_of_work(state.session_factory) as session:
        case = case_repository.get(session, grant.case_id, for_update=True)
        if case.customer_id != grant.customer_id:
            raise NotFound("this link is not valid")
        customer = customer_repository.get(session, case.customer_id)
        record_feedback(
            session,
            case=case,
            customer=customer,
            source=source if source in SOURCES else "confirm",
            fixed=None if not fixed else fixed == "yes",
            csat=_score(csat, 5, "csat"),
            ces=_score(ces, 7, "ces"),
            comment=comment,
            now=now,
            settings=state.settings,
        )
        reopened = case.status == CaseStatus.open
        next_update = local_time(case.next_update_due, customer.timezone) if case.next_update_due else ""
        owner_name = case.owner.name
    return templates.TemplateResponse(
        request,
        "feedback/thanks.html",
        {"owner_name": owner_name, "reopened": reopened, "next_update": next_update},
    )
