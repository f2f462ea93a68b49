"""Reading the audit log, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.audit.models import AuditEntry


def page(
    session: Session,
    *,
    limit: int,
    before_id: str | None,
    action: str | None = None,
    target_id: str | None = None,
) -> Sequence[AuditEntry]:
    # Ids grow with time (kit.ids), so the id alone orders the log and serves as the cursor.
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    return session.scalars(query).all()
