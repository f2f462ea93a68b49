"""Every query of the outbox."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id
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


def get(session: Session, message_id: str, *, for_update: bool = False) -> OutboxMessage:
    message = None
    if looks_like_id("msg", message_id):
        stmt = select(OutboxMessage).where(OutboxMessage.id == message_id)
        if for_update:
            # The worker claims rows with SKIP LOCKED: a retry and a delivery never both win.
            stmt = stmt.with_for_update()
        message = session.scalars(stmt).one_or_none()
    if message is None:
        raise NotFound(f"no message with id {message_id!r}")
    return message


def in_statuses(
    session: Session, *, statuses: Sequence[OutboxStatus], limit: int, cursor: str | None
) -> Sequence[OutboxMessage]:
    """Newest first: the staff outbox page (held and failed together by default)."""
    stmt = select(OutboxMessage).where(OutboxMessage.status.in_(statuses))
    return session.scalars(paginate_desc(stmt, OutboxMessage.id, limit=limit, cursor=cursor)).all()


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: count for status, count in rows}
