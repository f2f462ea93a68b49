"""Tables of the intake domain: every inbound message we took (so a re-delivery does nothing),
mail we could not process (kept whole for an admin), and the files customers sent us."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime


class MailSource(StrEnum):
    smtp = "smtp"
    imap = "imap"


class QuarantineStatus(StrEnum):
    held = "held"  # waiting for an admin to look at it
    released = "released"  # an admin had it taken again, and this time it was


class InboundMail(Base):
    """One row per message taken in, whatever became of it. The unique key is what makes a
    re-delivered message (an MTA retry, an IMAP poll after a crash) a no-op."""

    __tablename__ = "inbound_mail"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    # The Message-ID as written (without <>), or "sha256:<hex>" of the raw bytes when the
    # message has none or it is too long to index.
    message_key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[MailSource] = mapped_column(String(10))
    outcome: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    quarantine_id: Mapped[str | None] = mapped_column(
        ForeignKey("quarantined_mail.id", ondelete="SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuarantinedMail(Base):
    """Mail that could not be parsed or processed, with the reason; never lost, never answered."""

    __tablename__ = "quarantined_mail"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source: Mapped[MailSource] = mapped_column(String(10))
    envelope_from: Mapped[str | None] = mapped_column(String(320))
    envelope_to: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    message_id: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[QuarantineStatus] = mapped_column(String(20))
    # The bytes exactly as received; only the raw download loads them.
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)


class Attachment(Base):
    """A file a customer sent with a message, kept in the database so web processes stay
    stateless. Belongs to a case, and to the timeline event of the message that carried it."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str | None] = mapped_column(ForeignKey("case_events.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Only the download loads the bytes; lists never do.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True, deferred_raiseload=True)
