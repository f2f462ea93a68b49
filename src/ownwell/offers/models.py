"""Tables of the offers domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.cases.models import Case
from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime
from ownwell.staff.models import Staff


class OfferType(StrEnum):
    refund = "refund"
    replacement = "replacement"
    store_credit = "store_credit"
    goodwill = "goodwill"


class OfferStatus(StrEnum):
    approved = "approved"
    pending_approval = "pending_approval"
    rejected = "rejected"


class Offer(Base):
    """What we give a customer to make it right, and who decided it."""

    __tablename__ = "offers"
    __table_args__ = (
        # The approval-reminder sweep and the approvals queue: pending offers by due time.
        Index("ix_offers_status_approval_due", "status", "approval_due_at"),
    )

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    type: Mapped[OfferType] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[OfferStatus] = mapped_column(String(20))
    proposed_by_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    # Set while the offer waits for a supervisor: when the approval is due (created + SLA,
    # fixed at proposal so a later settings change does not move it) and when we reminded.
    approval_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approval_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Whose supervisors decide it, fixed when it is made (a later re-attribution does not move
    # it): ",dep_a,dep_b," as packed by rules.pack_departments; empty when none.
    deciding_department_ids: Mapped[str] = mapped_column(Text, default="", server_default="")

    case: Mapped[Case] = relationship(lazy="raise")
    proposed_by: Mapped[Staff] = relationship(lazy="raise", foreign_keys=[proposed_by_id])
    decided_by: Mapped[Staff | None] = relationship(lazy="raise", foreign_keys=[decided_by_id])
