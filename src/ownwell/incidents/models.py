"""Tables of the incidents domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime
from ownwell.staff.models import Staff


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # P2: the department that caused it deals with it; its staff are the concierges.
    caused_by_department_id: Mapped[str] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), index=True
    )
    # The one person answerable for the whole incident (P1), who writes the updates.
    owner_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    group_size: Mapped[int] = mapped_column(Integer)
    # Fixed at creation; kept here so that lists never count thousands of rows.
    affected_count: Mapped[int] = mapped_column(Integer)
    update_count: Mapped[int] = mapped_column(Integer, default=0)
    # What the latest message promised the customers: when they will hear from us next.
    next_update_due: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    owner: Mapped[Staff] = relationship(lazy="raise", foreign_keys=[owner_id])


class IncidentUpdate(Base):
    """One message to every affected customer: number 1 is the first notice. A row whose
    `fanned_out_at` is empty is still owed to some customers; the worker fans it out."""

    __tablename__ = "incident_updates"
    __table_args__ = (
        UniqueConstraint("incident_id", "number"),
        Index("ix_incident_updates_pending", "fanned_out_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    next_update_due: Mapped[datetime] = mapped_column(UTCDateTime)
    author_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Fan-out progress: customers are taken in id order, after this one.
    fanout_after: Mapped[str | None] = mapped_column(String(40))
    # Affected customers who asked not to be contacted, so were sent nothing.
    not_contacted: Mapped[int] = mapped_column(Integer, default=0)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IncidentCustomer(Base):
    """An affected customer, in a group with its concierge. Written in bulk (Core inserts)."""

    __tablename__ = "incident_customers"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="RESTRICT"), primary_key=True
    )
    group_no: Mapped[int] = mapped_column(Integer)
    concierge_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))


class IncidentCase(Base):
    """The one case that holds a customer's replies about an incident. The primary key makes a
    second case for the same (incident, customer) impossible, whatever races."""

    __tablename__ = "incident_cases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["incident_id", "customer_id"],
            ["incident_customers.incident_id", "incident_customers.customer_id"],
            ondelete="CASCADE",
        ),
    )

    incident_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
