"""`GET /audit`: read only. There is no route that changes or deletes an audit row, on purpose."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.audit import policies, repository
from ownwell.audit.models import AuditEntry
from ownwell.audit.schemas import AuditEntryOut
from ownwell.deps import ApiContext
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import BoundedText, PageCursor

router = APIRouter(tags=["audit"])
ActionQuery = BoundedText(60) | None  # type: ignore[valid-type]
TargetQuery = BoundedText(100) | None  # type: ignore[valid-type]


def entry_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        at=entry.at,
        actor={"id": entry.actor_id, "name": entry.actor_label},
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        before=entry.before,
        after=entry.after,
        reason=entry.reason,
    )


@router.get("/audit", response_model=Page[AuditEntryOut])
def list_audit(
    ctx: ApiContext,
    action: ActionQuery = None,
    target_id: TargetQuery = None,
    limit: int = DEFAULT_LIMIT,
    cursor: PageCursor | None = None,
) -> Page[AuditEntryOut]:
    """Every audited change, newest first: who, when, what, before and after."""
    policies.require_can_read(ctx.actor)
    rows = repository.page(ctx.session, limit=limit, cursor=cursor, action=action, target_id=target_id)
    items, next_cursor = split_page(rows, limit, lambda e: e.id)
    return Page(items=[entry_out(e) for e in items], next_cursor=next_cursor)
