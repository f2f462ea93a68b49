"""Reading the audit log, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.audit.models import AuditEntry
from ownwell.kit.pagination import paginate_desc


def page(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    action: str | None = None,
    target_id: str | None = None,
) -> Sequence[AuditEntry]:
    """A page (plus one row, to tell whether more follow). Ids grow with time (kit.ids)."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    return session.scalars(paginate_desc(query, AuditEntry.id, limit=limit, cursor=cursor)).all()
