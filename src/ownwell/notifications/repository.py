"""Every query of the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.kit.pagination import paginate_desc
from ownwell.notifications.models import OutboxMessage, OutboxStatus


def list_page(
    session: Session,
    *,
    case_id: str | None,
    status: OutboxStatus | None,
    limit: int,
    cursor: str | None,
) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage)
    if case_id is not None:
        stmt = stmt.where(OutboxMessage.case_id == case_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return session.scalars(paginate_desc(stmt, OutboxMessage.id, limit=limit, cursor=cursor)).all()
