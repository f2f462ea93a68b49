"""GET /outbox: every message we owe or sent, with its delivery state."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from ownwell.deps import ApiContext
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import BoundedText, PageCursor
from ownwell.notifications import repository
from ownwell.notifications.models import OutboxChannel, OutboxMessage, OutboxStatus

router = APIRouter(tags=["outbox"])


class OutboxOut(BaseModel):
    id: str
    case_id: str | None
    channel: OutboxChannel
    recipient: str
    kind: str
    subject: str
    body: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None


def outbox_out(m: OutboxMessage) -> OutboxOut:
    return OutboxOut(
        id=m.id,
        case_id=m.case_id,
        channel=m.channel,
        recipient=m.recipient,
        kind=m.kind,
        subject=m.subject,
        body=m.body,
        status=m.status,
        attempts=m.attempts,
        last_error=m.last_error,
        next_attempt_at=m.next_attempt_at,
        created_at=m.created_at,
        sent_at=m.sent_at,
    )


@router.get("/outbox", response_model=Page[OutboxOut])
def list_outbox(
    ctx: ApiContext,
    case_id: BoundedText(40) | None = None,  # type: ignore[valid-type]
    status: OutboxStatus | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: PageCursor | None = None,
) -> Page[OutboxOut]:
    rows = repository.list_page(ctx.session, case_id=case_id, status=status, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda m: m.id)
    return Page[OutboxOut](items=[outbox_out(m) for m in items], next_cursor=next_cursor)
