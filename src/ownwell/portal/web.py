"""The customer's view of their case, reached by the signed link in every message: who owns
it, when they will hear next, what we promised, and what happened so far. Read-only for now."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ownwell.cases import repository as case_repository
from ownwell.cases.models import CaseStatus
from ownwell.commitments import repository as commitment_repository
from ownwell.commitments.models import PENDING_STATUSES
from ownwell.customers import repository as customer_repository
from ownwell.db import unit_of_work
from ownwell.errors import NotFound
from ownwell.notifications.render import local_time
from ownwell.portal.links import read_token
from ownwell.web import templates

router = APIRouter(include_in_schema=False)
STATUS_WORDS = {
    CaseStatus.open: "We are working on it",
    CaseStatus.waiting_on_customer: "We are waiting for your answer",
    CaseStatus.resolved: "Solved",
    CaseStatus.closed: "Closed",
}


@router.get("/portal/{token}", response_class=HTMLResponse)
def case_page(request: Request, token: str) -> HTMLResponse:
    state = request.app.state
    grant = read_token(state.settings.resolved_secret_key(), token, now=state.clock.now())
    if grant is None or grant.case_id is None:
        # Forged, tampered with and expired links all look the same: nothing is shown.
        raise NotFound("this link is not valid or has expired; reply to our last e-mail for a fresh one")
    with unit_of_work(state.session_factory) as session:
        case = case_repository.get(session, grant.case_id)
        if case.customer_id != grant.customer_id:
            raise NotFound("this link is not valid")
        customer = customer_repository.get(session, case.customer_id)
        zone = customer.timezone
        events = case_repository.timeline(session, case.id, limit=500, cursor=None, customer_only=True)
        promises = [
            {"text": c.text, "due": local_time(c.due_at, zone), "status": c.status}
            for c in commitment_repository.for_case(session, case.id)
            if c.status in PENDING_STATUSES
        ]
        context = {
            "customer_name": customer.name,
            "subject": case.subject,
            "owner_name": case.owner.name,
            "status": STATUS_WORDS[CaseStatus(case.status)],
            "next_update": local_time(case.next_update_due, zone) if case.next_update_due else None,
            "promises": promises,
            "events": [
                {"at": local_time(e.at, zone), "who": e.actor_name or "Us", "text": e.text, "kind": e.kind}
                for e in events
            ],
        }
    return templates.TemplateResponse(request, "portal/case.html", context)
