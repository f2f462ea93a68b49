"""JSON routes for cases: intake, the timeline, messages, transfer, resolve and reopen."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ownwell.cases import lifecycle, policies, repository, service
from ownwell.cases.models import Case, CaseEvent, CaseKind, CaseStatus
from ownwell.cases.repository import CaseFilter
from ownwell.cases.schemas import (
    Actor,
    CadenceIn,
    CadenceOut,
    CaseIn,
    CaseOut,
    CasePatch,
    EventOut,
    MessageIn,
    Person,
    ReopenIn,
    ResolveIn,
    TransferIn,
)
from ownwell.config import Settings
from ownwell.deps import ApiContext, Ctx, KnownToken, api_unit, in_shared_unit
from ownwell.errors import InvalidInput, NotFound
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, check_limit, encode_cursor
from ownwell.kit.text import BoundedText, PageCursor
from ownwell.operations import idempotency
from ownwell.staff import repository as staff_repository
from ownwell.staff.policies import require_admin, require_customer_voice

router = APIRouter(tags=["cases"])
Cursor = PageCursor | None
IdQuery = BoundedText(40) | None  # type: ignore[valid-type]


def case_out(case: Case, *, settings: Settings, now: datetime) -> CaseOut:
    return CaseOut(
        id=case.id,
        customer_id=case.customer_id,
        subject=case.subject,
        kind=case.kind,
        channel=case.channel,
        status=case.status,
        proactive=case.proactive,
        unverified_sender=case.unverified_sender,
        owner=Person(id=case.owner.id, name=case.owner.name),
        caused_by_department_id=case.caused_by_department_id,
        order_id=case.order_id,
        incident_id=case.incident_id,
        next_update_due=case.next_update_due,
        portal_url=service.case_portal_url(case, settings=settings, now=now),
        recurring_issue_id=case.recurring_issue_id,
        created_at=case.created_at,
        updated_at=case.updated_at,
        resolved_at=case.resolved_at,
    )


def event_out(event: CaseEvent) -> EventOut:
    actor = None
    if event.actor_staff_id:
        actor = Actor(id=event.actor_staff_id, name=event.actor_name or "", type="staff")
    elif event.actor_customer_id:
        actor = Actor(id=event.actor_customer_id, name=event.actor_name or "", type="customer")
    return EventOut(
        id=event.id,
        at=event.at,
        kind=event.kind,
        actor=actor,
        visibility=event.visibility,
        text=event.text,
        data=event.data or {},
    )


@router.post("/cases", status_code=201, response_model=CaseOut)
async def create_case(body: CaseIn, request: Request, _auth: KnownToken) -> Response:
    """A customer's problem in their own words; it comes back owned by one named person."""
    return await take_in(request, body)


async def take_in(request: Request, body: CaseIn) -> Response:
    """The intake command and its answer, for the route above and for `cases.lane`, which
    brings it the ordinary requests without FastAPI's routing."""
    key = idempotency.checked_key(request.headers.get(idempotency.HEADER))
    if key is not None:
        # A retry-safe request runs in a transaction of its own, which claims the key first.
        return await run_in_threadpool(_take_in_once, request, body, key)

    # The busiest write of the API: requests that arrive together share one transaction (and
    # one threadpool hop); each answer is serialised once, after the commit that stored it.
    def intake(ctx: Ctx) -> CaseOut:
        case = service.create_case(
            ctx.session, data=body, actor=ctx.actor, now=ctx.now, settings=ctx.settings
        )
        return case_out(case, settings=ctx.settings, now=ctx.now)

    out = await in_shared_unit(request, intake, hint=lambda session: service.expect_case(session, body))
    return Response(out.model_dump_json().encode(), status_code=201, media_type="application/json")


def _take_in_once(request: Request, body: CaseIn, key: str) -> Response:
    with api_unit(request) as ctx:
        out = once(
            ctx,
            key,
            request,
            body,
            lambda: case_out(
                service.create_case(
                    ctx.session, data=body, actor=ctx.actor, now=ctx.now, settings=ctx.settings
                ),
                settings=ctx.settings,
                now=ctx.now,
            ),
        )
    return Response(out.model_dump_json().encode(), status_code=201, media_type="application/json")


def once(
    ctx: Ctx, key: str | None, request: Request, body: BaseModel, command: Callable[[], CaseOut]
) -> CaseOut:
    """`command`'s answer, or, for a key already used, the case its first request made or
    touched, as it is now. Only the case's id is kept with the key: no customer's words."""
    if key is None:
        return command()
    fingerprint = idempotency.fingerprint(request.method, request.url.path, body.model_dump_json().encode())
    earlier = idempotency.claim(
        ctx.session, staff_id=ctx.actor.id, key=key, request_fingerprint=fingerprint, now=ctx.now
    )
    if earlier is not None:
        return case_out(repository.get(ctx.session, earlier["case_id"]), settings=ctx.settings, now=ctx.now)
    out = command()
    idempotency.remember(ctx.session, staff_id=ctx.actor.id, key=key, answer={"case_id": out.id})
    return out


def case_filter(
    owner_id: IdQuery = None,
    status: CaseStatus | None = None,
    customer_id: IdQuery = None,
    caused_by_department_id: IdQuery = None,
    kind: CaseKind | None = None,
    proactive: bool | None = None,
    order_id: IdQuery = None,
    recurring_issue_id: IdQuery = None,
) -> CaseFilter:
    """The filters of `GET /cases`, shared with its CSV export (`cases.export`)."""
    return CaseFilter(
        owner_id=owner_id,
        status=status,
        customer_id=customer_id,
        caused_by_department_id=caused_by_department_id,
        kind=kind,
        proactive=proactive,
        order_id=order_id,
        recurring_issue_id=recurring_issue_id,
    )


Filters = Annotated[CaseFilter, Depends(case_filter)]


@router.get("/cases", response_model=Page[CaseOut])
def list_cases(
    ctx: ApiContext,
    flt: Filters,
    limit: int = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CaseOut]:
    rows = repository.list_page(ctx.session, flt, limit=limit, cursor=cursor)
    items = list(rows[:limit])
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return Page[CaseOut](
        items=[case_out(c, settings=ctx.settings, now=ctx.now) for c in items],
        next_cursor=next_cursor,
    )


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: str, ctx: ApiContext) -> CaseOut:
    return case_out(repository.get(ctx.session, case_id), settings=ctx.settings, now=ctx.now)


@router.patch("/cases/{case_id}", response_model=CaseOut)
def update_case(case_id: str, body: CasePatch, ctx: ApiContext) -> CaseOut:
    case = repository.get(ctx.session, case_id, for_update=True)
    policies.require_owner_or_manager(ctx.session, ctx.actor, case, "change it")
    service.update_case(ctx.session, case=case, patch=body, actor=ctx.actor, now=ctx.now)
    return case_out(case, settings=ctx.settings, now=ctx.now)


@router.get("/cases/{case_id}/timeline", response_model=Page[EventOut])
def get_timeline(case_id: str, ctx: ApiContext, limit: int = 200, cursor: Cursor = None) -> Page[EventOut]:
    case = repository.get(ctx.session, case_id)
    check_limit(limit)
    rows = repository.timeline(ctx.session, case.id, limit=limit, cursor=cursor)
    items = list(rows[:limit])
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit and items else None
    return Page[EventOut](items=[event_out(e) for e in items], next_cursor=next_cursor)


@router.post("/cases/{case_id}/messages", status_code=201, response_model=CaseOut)
def post_message(
    case_id: str,
    body: MessageIn,
    ctx: ApiContext,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias=idempotency.HEADER)] = None,
) -> CaseOut:
    """`Idempotency-Key`: a repeat of the same request answers as the first did and writes nothing."""
    require_customer_voice(ctx.scope, from_customer=body.from_customer)
    key = idempotency.checked_key(idempotency_key)
    return once(ctx, key, request, body, lambda: _post_message(case_id, body, ctx))


def _post_message(case_id: str, body: MessageIn, ctx: Ctx) -> CaseOut:
    case = repository.get(ctx.session, case_id, for_update=True)
    if not body.from_customer:
        policies.require_can_write(ctx.session, ctx.actor, case, body.visibility)
    service.add_message(
        ctx.session,
        case=case,
        body=body.body,
        visibility=body.visibility,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
        from_customer=body.from_customer,
        wait_for_customer=body.wait_for_customer,
    )
    return case_out(case, settings=ctx.settings, now=ctx.now)


@router.post("/cases/{case_id}/transfer", response_model=CaseOut)
def transfer(case_id: str, body: TransferIn, ctx: ApiContext) -> CaseOut:
    case = repository.get(ctx.session, case_id, for_update=True)
    policies.require_owner_or_manager(ctx.session, ctx.actor, case, "transfer it")
    try:
        to = staff_repository.get_staff(ctx.session, body.to_staff_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="to_staff_id") from exc
    lifecycle.transfer_case(
        ctx.session,
        case=case,
        to=to,
        note=body.handoff_note,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return case_out(case, settings=ctx.settings, now=ctx.now)


@router.post("/cases/{case_id}/resolve", response_model=CaseOut)
def resolve(case_id: str, body: ResolveIn, ctx: ApiContext) -> CaseOut:
    case = repository.get(ctx.session, case_id, for_update=True)
    policies.require_owner_or_manager(ctx.session, ctx.actor, case, "resolve it")
    lifecycle.resolve_case(
        ctx.session,
        case=case,
        summary=body.summary,
        tip=body.next_issue_tip,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return case_out(case, settings=ctx.settings, now=ctx.now)


@router.post("/cases/{case_id}/reopen", response_model=CaseOut)
def reopen(case_id: str, body: ReopenIn, ctx: ApiContext) -> CaseOut:
    case = repository.get(ctx.session, case_id, for_update=True)
    policies.require_owner_or_manager(ctx.session, ctx.actor, case, "reopen it")
    lifecycle.reopen_case(
        ctx.session,
        case=case,
        reason=body.reason,
        actor=ctx.actor,
        now=ctx.now,
        settings=ctx.settings,
    )
    return case_out(case, settings=ctx.settings, now=ctx.now)


@router.get("/cadence-policies", response_model=list[CadenceOut], tags=["settings"])
def list_cadence(ctx: ApiContext) -> list[CadenceOut]:
    return [CadenceOut(kind=k, update_every_minutes=service.cadence_for(ctx.session, k)) for k in CaseKind]


@router.put("/cadence-policies/{kind}", response_model=CadenceOut, tags=["settings"])
def set_cadence(kind: CaseKind, body: CadenceIn, ctx: ApiContext) -> CadenceOut:
    require_admin(ctx.actor, "change cadence policies")
    service.set_cadence(
        ctx.session, kind=kind, minutes=body.update_every_minutes, actor=ctx.actor, now=ctx.now
    )
    return CadenceOut(kind=kind, update_every_minutes=body.update_every_minutes)
