"""My day: what the signed-in person owes, by due time, each with one click to act.
The same data as GET /api/v1/agenda (agenda_for), grouped into overdue and coming up."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ownwell.agenda.schemas import AgendaItem, AgendaKind
from ownwell.agenda.service import agenda_for
from ownwell.feedback import repository as feedback_repository
from ownwell.web.queries import cases_with_customers
from ownwell.web.session import StaffPage

router = APIRouter(include_in_schema=False)
HORIZON = timedelta(hours=24)  # the API's default horizon, so both show the same day
LIMIT = 200
KUDOS = 5

# What the one-click action on each kind of item is, and where on the case page it lands.
ACTIONS = {
    AgendaKind.commitment: ("Keep or renegotiate", "commitments"),
    AgendaKind.update_due: ("Update the customer", "reply"),
    AgendaKind.follow_up: ("Check in", "reply"),
    AgendaKind.approval: ("Decide", "offers"),
    AgendaKind.new_case: ("Answer", "reply"),
    AgendaKind.prevention: ("Open the issue", "cause-h"),
}
LABELS = {
    AgendaKind.commitment: "Promise",
    AgendaKind.update_due: "Update due",
    AgendaKind.follow_up: "Follow-up",
    AgendaKind.approval: "Approval",
    AgendaKind.new_case: "New case",
    AgendaKind.prevention: "Prevention",
}


def _href(item: AgendaItem) -> str:
    """Where the item is acted on: its case, or for a prevention action its recurring issue."""
    anchor = ACTIONS.get(item.kind, ("Open", "top"))[1]
    if item.kind == AgendaKind.prevention:
        return f"/insights/recurring/{item.recurring_issue_id}#{anchor}"
    return f"/cases/{item.case_id}#{anchor}"


@router.get("/", response_class=HTMLResponse)
def my_day(ctx: StaffPage) -> Response:
    items = agenda_for(ctx.session, staff_id=ctx.actor.id, until=ctx.now + HORIZON, limit=LIMIT)
    cases = cases_with_customers(ctx.session, (item.case_id for item in items if item.case_id))
    rows = [
        {
            "item": item,
            "label": LABELS.get(item.kind, str(item.kind)),
            "action": ACTIONS.get(item.kind, ("Open", "top"))[0],
            "anchor": ACTIONS.get(item.kind, ("Open", "top"))[1],
            "case": cases.get(item.case_id or "", (None, None))[0],
            "customer": cases.get(item.case_id or "", (None, None))[1],
            "href": _href(item),
        }
        for item in items
    ]
    overdue = [row for row in rows if row["item"].due_at < ctx.now]
    upcoming = [row for row in rows if row["item"].due_at >= ctx.now]
    # P13: praise customers gave this person, newest first.
    kudos = feedback_repository.kudos_for_staff(ctx.session, ctx.actor.id, limit=KUDOS, cursor=None)[:KUDOS]
    return ctx.render(
        "staff/day.html",
        {"nav": "day", "overdue": overdue, "upcoming": upcoming, "kudos": kudos},
    )
