"""The customer's view of their case, reached by the signed link in every message: who owns
it, when they will hear next, what we promised, what happened so far, and forms to reply, say
what would be fair, and confirm and rate a resolution. Plain HTML forms (no JavaScript needed),
each carrying a CSRF token; every form acts only on the one case the link was signed for."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.cases import rules as case_rules
from ownwell.cases.models import Case, CaseStatus
from ownwell.commitments import repository as commitment_repository
from ownwell.commitments.models import PENDING_STATUSES
from ownwell.customers import repository as customer_repository
from ownwell.customers.models import Customer
from ownwell.db import unit_of_work
from ownwell.errors import InvalidInput, NotFound
from ownwell.feedback.service import record_feedback
from ownwell.notifications.render import local_time
from ownwell.portal import fresh_link, service
from ownwell.portal import repository as portal_repository
from ownwell.portal.forms import PortalForm, check_csrf, csrf_for, private_page, score, text_error
from ownwell.portal.links import PortalGrant, read_token
from ownwell.web import templates

router = APIRouter(include_in_schema=False)
router.include_router(fresh_link.router)

STATUS_WORDS = {
    CaseStatus.open: "We are working on it",
    CaseStatus.waiting_on_customer: "We are waiting for your answer",
    CaseStatus.resolved: "Solved",
    CaseStatus.closed: "Closed",
}
MAX_REPLY = 10_000
MAX_FAIR = 2_000
MAX_COMMENT = 4_000
# What a finished form says when the page comes back (fixed words: nothing typed is reflected).
NOTICES = {
    "reply": "Your message is on your case. {owner} has it.",
    "fair": "Thank you. {owner} has your proposal and will weigh it before making an offer.",
    "thanks": "Thank you. {owner} has your answer.",
    "closed": "Thank you for confirming. Your case is closed; write here if anything comes up.",
    "reopened": "{owner} has reopened your case and will be in touch.",
}


def _grant(request: Request, token: str) -> PortalGrant | None:
    state = request.app.state
    grant = read_token(state.settings.resolved_secret_key(), token, now=state.clock.now())
    return grant if grant is not None and grant.case_id is not None else None


def _case_of(session: Session, grant: PortalGrant, *, for_update: bool = False) -> tuple[Case, Customer]:
    """The one case the link was signed for, and only if it is still that customer's."""
    assert grant.case_id is not None
    try:
        case = case_repository.get(session, grant.case_id, for_update=for_update)
    except NotFound:
        case = None
    if case is None or case.customer_id != grant.customer_id:
        raise NotFound("this link is not valid")
    return case, customer_repository.get(session, case.customer_id)


def _context(session: Session, case: Case, customer: Customer) -> dict[str, object]:
    zone = customer.timezone
    events = case_repository.timeline(session, case.id, limit=500, cursor=None, customer_only=True)
    fair = portal_repository.latest_fair_solution(session, case.id)
    status = CaseStatus(case.status)
    return {
        "customer_name": customer.name,
        "subject": case.subject,
        "owner_name": case.owner.name,
        "status": STATUS_WORDS[status],
        "active": case_rules.is_active(status),
        "resolved": status == CaseStatus.resolved,
        "closed": status == CaseStatus.closed,
        "next_update": local_time(case.next_update_due, zone) if case.next_update_due else None,
        "fair_solution": {"text": fair.text, "at": local_time(fair.at, zone)} if fair else None,
        "promises": [
            {"text": c.text, "due": local_time(c.due_at, zone), "status": c.status}
            for c in commitment_repository.for_case(session, case.id)
            if c.status in PENDING_STATUSES
        ],
        "events": [
            {
                "at": local_time(e.at, zone),
                "who": "You" if e.actor_customer_id == customer.id else (e.actor_name or "Us"),
                "text": e.text,
                "kind": e.kind,
            }
            for e in events
        ],
    }


def _page(
    request: Request,
    token: str,
    grant: PortalGrant,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    form = PortalForm.of(request)
    with unit_of_work(request.app.state.session_factory) as session:
        case, customer = _case_of(session, grant)
        context = _context(session, case, customer)
    owner = str(context["owner_name"])
    context |= {
        "notice": NOTICES[notice].format(owner=owner) if notice in NOTICES else None,
        "errors": errors or {},
        "values": values or {},
        "csrf": csrf_for(request, token, form.cookie),
        "base": f"/portal/{quote(token, safe='')}",
        "limits": {"reply": MAX_REPLY, "fair": MAX_FAIR, "comment": MAX_COMMENT},
    }
    response = templates.TemplateResponse(request, "portal/case.html", context, status_code=status_code)
    form.keep(request, response)
    private_page(response)
    return response


@router.get("/portal/{token}", response_class=HTMLResponse)
def case_page(request: Request, token: str, done: str | None = None) -> Response:
    grant = _grant(request, token)
    if grant is None:
        # Forged, tampered with and expired links all look the same: nothing of the case is shown,
        # only a way to ask for a fresh link.
        return fresh_link.invalid_link_page(request)
    return _page(request, token, grant, notice=done)


def _back(token: str, done: str) -> RedirectResponse:
    # Post/redirect/get: reloading the page never sends the form twice.
    return RedirectResponse(f"/portal/{quote(token, safe='')}?done={done}#top", status_code=303)


def _posted_grant(request: Request, token: str, csrf: str | None) -> PortalGrant:
    grant = _grant(request, token)
    if grant is None:
        raise NotFound("this link is not valid or has expired; open the case page to ask for a fresh one")
    check_csrf(request, token, csrf)
    return grant


@router.post("/portal/{token}/reply", response_class=HTMLResponse)
def reply(
    request: Request,
    token: str,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    body: Annotated[str, Form(max_length=MAX_REPLY * 4)] = "",
) -> Response:
    grant = _posted_grant(request, token, csrf)
    problem = text_error(body, MAX_REPLY, what="your message")
    if problem:
        return _page(request, token, grant, errors={"body": problem}, values={"body": body}, status_code=422)
    state = request.app.state
    with unit_of_work(state.session_factory) as session:
        case, customer = _case_of(session, grant, for_update=True)
        service.customer_reply(
            session, case=case, customer=customer, body=body, now=state.clock.now(), settings=state.settings
        )
    return _back(token, "reply")


@router.post("/portal/{token}/fair-solution", response_class=HTMLResponse)
def fair_solution(
    request: Request,
    token: str,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    fair_solution: Annotated[str, Form(max_length=MAX_FAIR * 4)] = "",
) -> Response:
    grant = _posted_grant(request, token, csrf)
    problem = text_error(fair_solution, MAX_FAIR, what="your proposal")
    if problem:
        return _page(
            request,
            token,
            grant,
            errors={"fair_solution": problem},
            values={"fair_solution": fair_solution},
            status_code=422,
        )
    state = request.app.state
    with unit_of_work(state.session_factory) as session:
        case, customer = _case_of(session, grant, for_update=True)
        service.propose_fair_solution(
            session,
            case=case,
            customer=customer,
            text=fair_solution,
            now=state.clock.now(),
            settings=state.settings,
        )
    return _back(token, "fair")


@router.post("/portal/{token}/feedback", response_class=HTMLResponse)
def feedback(
    request: Request,
    token: str,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    fixed: Annotated[str, Form(max_length=10)] = "",
    csat: Annotated[str, Form(max_length=10)] = "",
    ces: Annotated[str, Form(max_length=10)] = "",
    comment: Annotated[str, Form(max_length=MAX_COMMENT * 4)] = "",
) -> Response:
    grant = _posted_grant(request, token, csrf)
    values = {"fixed": fixed, "csat": csat, "ces": ces, "comment": comment}
    errors: dict[str, str] = {}
    if fixed not in ("yes", "no"):
        errors["fixed"] = "Please tell us whether the problem is fixed."
    scores: dict[str, int | None] = {}
    for field, top in (("csat", 5), ("ces", 7)):
        try:
            scores[field] = score(values[field], top, field)
        except InvalidInput as exc:
            errors[field] = exc.message
    problem = text_error(comment, MAX_COMMENT, what="your comment", required=False)
    if problem:
        errors["comment"] = problem
    if errors:
        return _page(request, token, grant, errors=errors, values=values, status_code=422)
    state = request.app.state
    with unit_of_work(state.session_factory) as session:
        case, customer = _case_of(session, grant, for_update=True)
        if CaseStatus(case.status) != CaseStatus.resolved:
            done = "thanks"  # answered twice (another tab): keep nothing twice, say thanks again
        else:
            record_feedback(
                session,
                case=case,
                customer=customer,
                source="portal",
                fixed=fixed == "yes",
                csat=scores["csat"],
                ces=scores["ces"],
                comment=comment,
                now=state.clock.now(),
                settings=state.settings,
            )
            status = CaseStatus(case.status)
            done = {CaseStatus.open: "reopened", CaseStatus.closed: "closed"}.get(status, "thanks")
    return _back(token, done)
