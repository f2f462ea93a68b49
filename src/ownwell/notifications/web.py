"""The outbox page of the staff web app: messages that need a person (held for want of a server,
failed for good), any status on request, and "send again" through notifications.service."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ownwell.errors import InvalidInput
from ownwell.kit.pagination import checked_cursor, split_page
from ownwell.notifications import policies, repository, service
from ownwell.notifications.models import OutboxStatus
from ownwell.staff.service import is_manager
from ownwell.web.session import StaffForm, StaffPage

router = APIRouter(include_in_schema=False)
PAGE = 50
ATTENTION = "attention"
# The filters offered, in this order; "attention" is what a person has to act on.
FILTERS = [
    (ATTENTION, "Needs attention"),
    (OutboxStatus.failed.value, "Failed"),
    (OutboxStatus.held.value, "Held"),
    (OutboxStatus.retrying.value, "Retrying"),
    (OutboxStatus.queued.value, "Queued"),
    (OutboxStatus.sent.value, "Sent"),
]


def _statuses(status: str) -> list[OutboxStatus]:
    if status == ATTENTION:
        return list(service.RETRYABLE)
    try:
        return [OutboxStatus(status)]
    except ValueError:
        raise InvalidInput(
            f"unknown status {status[:40]!r}; choose one of {', '.join(v for v, _ in FILTERS)}",
            field="status",
        ) from None


@router.get("/outbox", response_class=HTMLResponse)
def outbox(ctx: StaffPage, status: str = ATTENTION, cursor: str | None = None) -> Response:
    rows = repository.in_statuses(
        ctx.session, statuses=_statuses(status), limit=PAGE, cursor=checked_cursor(cursor)
    )
    items, next_cursor = split_page(rows, PAGE, lambda m: m.id)
    counts = repository.status_counts(ctx.session)
    counts[ATTENTION] = sum(counts.get(s, 0) for s in service.RETRYABLE)
    return ctx.render(
        "staff/outbox.html",
        {
            "nav": "outbox",
            "status": status,
            "filters": FILTERS,
            "counts": counts,
            "messages": items,
            "next_cursor": next_cursor,
            "retryable": [s.value for s in service.RETRYABLE],
            "may_retry": is_manager(ctx.actor),
            "flash": "The message is queued and goes out with the worker's next sweep."
            if ctx.request.query_params.get("done") == "retried"
            else None,
        },
    )


@router.post("/outbox/{message_id}/retry")
def retry(message_id: str, ctx: StaffForm) -> Response:
    policies.require_can_retry(ctx.actor)
    message = repository.get(ctx.session, message_id, for_update=True)
    service.retry(ctx.session, message=message, actor=ctx.actor, now=ctx.now, settings=ctx.settings)
    return RedirectResponse("/outbox?done=retried", status_code=303)
