"""Tables of the commitments domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.cases.models import Case
from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime


class CommitmentStatus(StrEnum):
    open = "open"
    kept = "kept"
    broken = "broken"
    renegotiated = "renegotiated"


# A renegotiated promise is still owed, at its new due time.
PENDING_STATUSES = (CommitmentStatus.open, CommitmentStatus.renegotiated)


class Commitment(Base):
    __tablename__ = "commitments"
    __table_args__ = (
        Index("ix_commitments_owner_status_due", "owner_id", "status", "due_at"),
        Index("ix_commitments_status_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[CommitmentStatus] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The due time a reminder was sent for, so a renegotiated promise is reminded again.
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship(lazy="raise")


class CommitmentRenegotiation(Base):
    __tablename__ = "commitment_renegotiations"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    commitment_id: Mapped[str] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"), index=True)
    old_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    new_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)
    actor_staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    commitment: Mapped[Commitment] = relationship(lazy="raise")
