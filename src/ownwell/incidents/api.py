"""JSON routes for incidents: create, post updates, read with groups and delivery counts, and
relay a customer's reply to their concierge."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.cases.api import case_out
from ownwell.cases.schemas import CaseOut, Person
from ownwell.deps import ApiContext, Ctx
from ownwell.incidents import policies, repository, service
from ownwell.incidents.models import Incident
from ownwell.incidents.schemas import (
    DeliveryCounts,
    GroupOut,
    IncidentDetail,
    IncidentIn,
    IncidentOut,
    ReplyIn,
    UpdateIn,
    UpdateOut,
)
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import PageCursor
from ownwell.notifications.models import OutboxStatus
from ownwell.staff.policies import require_customer_voice

router = APIRouter(tags=["incidents"])


def incident_out(incident: Incident) -> IncidentOut:
    return IncidentOut(
        id=incident.id,
        title=incident.title,
        caused_by_department_id=incident.caused_by_department_id,
        owner=Person(id=incident.owner.id, name=incident.owner.name),
        affected_count=incident.affected_count,
        group_size=incident.group_size,
        update_count=incident.update_count,
        next_update_due=incident.next_update_due,
        created_at=incident.created_at,
        updated_at=incident.updated_at,
    )


def _delivery(statuses: dict[str, int], *, not_contacted: int, expected: int, done: bool) -> DeliveryCounts:
    counts = DeliveryCounts(
        # A message waiting to be retried has not reached anyone yet: it is still queued.
        queued=statuses.get(OutboxStatus.queued, 0) + statuses.get(OutboxStatus.retrying, 0),
        held=statuses.get(OutboxStatus.held, 0),
        sent=statuses.get(OutboxStatus.sent, 0),
        failed=statuses.get(OutboxStatus.failed, 0),
        not_contacted=not_contacted,
    )
    if not done:
        counts.pending = max(expected - not_contacted - sum(statuses.values()), 0)
    return counts


def incident_detail(ctx: Ctx, incident: Incident, *, fresh: bool = False) -> IncidentDetail:
    # A new incident has no outbox rows yet (the worker writes them): nothing to count.
    counts = {} if fresh else repository.delivery_counts(ctx.session, incident.id)
    updates = []
    for update, author_name in repository.updates_of(ctx.session, incident.id):
        updates.append(
            UpdateOut(
                id=update.id,
                number=update.number,
                message=update.message,
                author=Person(id=update.author_id, name=author_name) if update.author_id else None,
                next_update_due=update.next_update_due,
                created_at=update.created_at,
                fanned_out_at=update.fanned_out_at,
                delivery=_delivery(
                    counts.get(update.number, {}),
                    not_contacted=update.not_contacted,
                    expected=incident.affected_count,
                    done=update.fanned_out_at is not None,
                ),
            )
        )
    totals = DeliveryCounts()
    for update_out in updates:
        for name, value in update_out.delivery:
            setattr(totals, name, getattr(totals, name) + value)
    return IncidentDetail(
        **incident_out(incident).model_dump(),
        groups=[
            GroupOut(
                number=g.group_no,
                concierge=Person(id=g.concierge_id, name=g.concierge_name),
                customer_count=g.customer_count,
            )
            for g in repository.groups_of(ctx.session, incident.id)
        ],
        updates=updates,
        delivery=totals,
    )


@router.post("/incidents", status_code=201, response_model=IncidentDetail)
def create_incident(body: IncidentIn, ctx: ApiContext) -> IncidentDetail:
    """P11: every affected customer hears what happened from a named concierge. The messages
    are queued by the worker's next sweep; `delivery.pending` shows what is still to queue."""
    policies.require_incident_manager(ctx.actor, "declare an incident")
    incident = service.create_incident(
        ctx.session, data=body, actor=ctx.actor, now=ctx.now, settings=ctx.settings
    )
    return incident_detail(ctx, incident)


@router.get("/incidents", response_model=Page[IncidentOut])
def list_incidents(
    ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: PageCursor | None = None
) -> Page[IncidentOut]:
    rows = repository.list_page(ctx.session, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda i: i.id)
    return Page[IncidentOut](items=[incident_out(i) for i in items], next_cursor=next_cursor)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: str, ctx: ApiContext) -> IncidentDetail:
    """Affected count, groups with their concierges, and delivery counts per update and in
    total, read from the outbox rows as they are now."""
    return incident_detail(ctx, repository.get(ctx.session, incident_id))


@router.post("/incidents/{incident_id}/updates", status_code=201, response_model=IncidentDetail)
def post_update(incident_id: str, body: UpdateIn, ctx: ApiContext) -> IncidentDetail:
    """The next message to every affected customer, from their concierge."""
    policies.require_incident_manager(ctx.actor, "post an incident update")
    incident = repository.get(ctx.session, incident_id, for_update=True)
    service.post_update(ctx.session, incident=incident, data=body, actor=ctx.actor, now=ctx.now)
    return incident_detail(ctx, incident)


@router.post("/incidents/{incident_id}/replies", status_code=201, response_model=CaseOut)
def post_reply(incident_id: str, body: ReplyIn, ctx: ApiContext) -> CaseOut:
    """A customer's reply (relayed by a chat or e-mail gateway) lands on their one case about
    this incident, owned by their concierge. The customer's words: an integrator token only."""
    require_customer_voice(ctx.scope, from_customer=True)
    incident = repository.get(ctx.session, incident_id)
    case = service.record_reply(
        ctx.session, incident=incident, data=body, actor=ctx.actor, now=ctx.now, settings=ctx.settings
    )
    return case_out(case, settings=ctx.settings, now=ctx.now)
