"""Tables of the feedback domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.cases.models import Case
from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime


class FollowUpStatus(StrEnum):
    scheduled = "scheduled"
    sent = "sent"
    answered = "answered"
    cancelled = "cancelled"


class FollowUp(Base):
    """A check-in owed to the customer after a case was resolved ("did it stay fixed?")."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_status_due", "status", "due_at"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[FollowUpStatus] = mapped_column(String(20))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(lazy="raise")


class Feedback(Base):
    """What the customer told us about a resolution: fixed or not, CSAT 1-5, CES 1-7, words."""

    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    follow_up_id: Mapped[str | None] = mapped_column(ForeignKey("follow_ups.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20))
    fixed: Mapped[bool | None] = mapped_column(Boolean)
    csat: Mapped[int | None] = mapped_column(Integer)
    ces: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(lazy="raise")


class KudosSource(StrEnum):
    survey = "survey"
    message = "message"


class Kudos(Base):
    """P13: praise a customer gave, credited to the person who owned their case at the time."""

    __tablename__ = "kudos"
    __table_args__ = (Index("ix_kudos_staff_id_id", "staff_id", "id"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[KudosSource] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
