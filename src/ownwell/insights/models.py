"""Tables of the insights domain: recurring issues (P10), the vector of every matched case, and the
prevention actions that come out of a root cause."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime


class RecurringIssue(Base):
    __tablename__ = "recurring_issues"
    __table_args__ = (Index("ix_recurring_issues_merged_last_seen", "merged_into_id", "last_seen"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    label: Mapped[str] = mapped_column(String(300))
    case_count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    # The department that deals with it: the first caused_by department among its cases.
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    # Sum of the member cases' unit vectors (float32 bytes): adding a case is one addition, and
    # its direction is the centroid new cases are compared with.
    vector_sum: Mapped[bytes] = mapped_column(LargeBinary)
    root_cause: Mapped[str | None] = mapped_column(Text)
    root_cause_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A merged issue keeps its id (links in old e-mails still resolve) and points at the survivor.
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("recurring_issues.id", ondelete="SET NULL"))
    # When the last spike alert went out: one alert per spike window, not one per case.
    spike_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseVector(Base):
    """A case's vector and the issue it was matched to: what merge, split and rebuild work from."""

    __tablename__ = "case_vectors"
    __table_args__ = (Index("ix_case_vectors_issue_created", "issue_id", "case_created_at"),)

    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    issue_id: Mapped[str] = mapped_column(ForeignKey("recurring_issues.id", ondelete="CASCADE"))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # Copied from the case so counts over time and spike windows need no join.
    case_created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Declared so the unit of work inserts a new issue before its first member; never loaded.
    issue: Mapped[RecurringIssue] = relationship(lazy="raise")


class PreventionStatus(StrEnum):
    open = "open"
    done = "done"


class PreventionAction(Base):
    """What will stop a recurring issue from coming back, owned by one person. Not a commitment:
    commitments are promises to one customer on one case; this one belongs to the issue."""

    __tablename__ = "prevention_actions"
    __table_args__ = (Index("ix_prevention_actions_owner_status_due", "owner_id", "status", "due_at"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    issue_id: Mapped[str] = mapped_column(ForeignKey("recurring_issues.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[PreventionStatus] = mapped_column(String(20))
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Worker timers: set once each, so the reminder and the overdue escalation go out once.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
