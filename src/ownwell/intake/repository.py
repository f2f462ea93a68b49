"""Every query of the intake domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from ownwell.errors import NotFound
from ownwell.intake.models import Attachment, InboundMail, QuarantinedMail
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import check_limit, decode_cursor, paginate_desc


def already_received(session: Session, message_key: str) -> bool:
    return session.scalar(select(InboundMail.id).where(InboundMail.message_key == message_key)) is not None


def quarantine_page(session: Session, *, limit: int, cursor: str | None) -> Sequence[QuarantinedMail]:
    stmt = paginate_desc(select(QuarantinedMail), QuarantinedMail.id, limit=limit, cursor=cursor)
    return session.scalars(stmt).all()


def quarantined(
    session: Session, quarantine_id: str, *, with_raw: bool = False, for_update: bool = False
) -> QuarantinedMail:
    row = None
    if looks_like_id("qml", quarantine_id):
        stmt = select(QuarantinedMail).where(QuarantinedMail.id == quarantine_id)
        if with_raw:
            stmt = stmt.options(undefer(QuarantinedMail.raw))
        if for_update:
            stmt = stmt.with_for_update()
        row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(f"no quarantined mail with id {quarantine_id!r}", field="quarantine_id")
    return row


def received_as(session: Session, quarantine_id: str) -> InboundMail | None:
    return session.scalars(select(InboundMail).where(InboundMail.quarantine_id == quarantine_id)).first()


def attachments_page(
    session: Session, case_id: str, *, limit: int, cursor: str | None
) -> Sequence[Attachment]:
    stmt = select(Attachment).where(Attachment.case_id == case_id)
    if cursor:
        stmt = stmt.where(Attachment.id > decode_cursor(cursor))
    check_limit(limit)
    # Oldest first, like the timeline the files belong to.
    return session.scalars(stmt.order_by(Attachment.id).limit(limit + 1)).all()


def attachment(session: Session, attachment_id: str, *, with_content: bool = False) -> Attachment:
    row = None
    if looks_like_id("att", attachment_id):
        stmt = select(Attachment).where(Attachment.id == attachment_id)
        if with_content:
            stmt = stmt.options(undefer(Attachment.content))
        row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound(f"no attachment with id {attachment_id!r}", field="attachment_id")
    return row
