"""Tables of the cases domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.customers.models import Customer
from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime
from ownwell.staff.models import Staff


class CaseStatus(StrEnum):
    open = "open"
    waiting_on_customer = "waiting_on_customer"
    resolved = "resolved"
    closed = "closed"


ACTIVE_STATUSES = (CaseStatus.open, CaseStatus.waiting_on_customer)


class CaseKind(StrEnum):
    complaint = "complaint"
    request = "request"
    question = "question"


class CaseChannel(StrEnum):
    email = "email"
    web = "web"
    api = "api"
    phone = "phone"
    chat = "chat"
    proactive = "proactive"


class Visibility(StrEnum):
    customer = "customer"
    internal = "internal"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_owner_status_update_due", "owner_id", "status", "next_update_due"),
        Index("ix_cases_department_status", "caused_by_department_id", "status"),
        Index("ix_cases_customer_status", "customer_id", "status"),
        # The update-due reminder sweep: active cases by due time, across all owners.
        Index("ix_cases_status_update_due", "status", "next_update_due"),
        # The department board: a department's active cases in due order; on PostgreSQL the
        # board counts read this index alone (0013).
        Index(
            "ix_cases_department_active_due",
            "caused_by_department_id",
            "next_update_due",
            postgresql_include=["proactive"],
            postgresql_where=text("status IN ('open', 'waiting_on_customer')"),
            sqlite_where=text("status IN ('open', 'waiting_on_customer')"),
        ),
        # The department error rate (metrics): a department's cases per period.
        Index("ix_cases_department_created", "caused_by_department_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"))
    # P1: never null, never "the team" — the database itself refuses a case without a person.
    owner_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"), nullable=False)
    subject: Mapped[str] = mapped_column(String(300))
    kind: Mapped[CaseKind] = mapped_column(String(20))
    channel: Mapped[CaseChannel] = mapped_column(String(20))
    status: Mapped[CaseStatus] = mapped_column(String(30))
    proactive: Mapped[bool] = mapped_column(Boolean, default=False)
    caused_by_department_id: Mapped[str | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT")
    )
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    incident_id: Mapped[str | None] = mapped_column(String(40), index=True)
    recurring_issue_id: Mapped[str | None] = mapped_column(String(40), index=True)
    next_update_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The next_update_due that the owner was reminded of; a new window needs a new reminder.
    update_reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Opened in the name of an address nobody proved to hold (the public help form, or mail whose
    # sender the receiving server did not vouch for); cleared when the customer answers from it.
    unverified_sender: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    owner: Mapped[Staff] = relationship(lazy="raise", foreign_keys=[owner_id])
    # Declared so the unit of work inserts parents first; never loaded implicitly.
    customer: Mapped[Customer] = relationship(lazy="raise")


class CaseEvent(Base):
    """The append-only timeline: who did what to the case, when, and who may see it."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "at"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(40))
    actor_staff_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    actor_customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    # Display name as it was when the event happened; the timeline never changes afterwards.
    actor_name: Mapped[str | None] = mapped_column(String(200))
    visibility: Mapped[Visibility] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)

    case: Mapped[Case] = relationship(lazy="raise")


class CadencePolicy(Base):
    """How often a customer with an open case of this kind hears from us."""

    __tablename__ = "cadence_policies"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    update_every_minutes: Mapped[int] = mapped_column(Integer)
