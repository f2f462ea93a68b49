"""Tables of the customers domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.db import Base
from ownwell.kit.types import IdStr, JsonDoc, UTCDateTime


class IdentifierKind(StrEnum):
    email = "email"
    phone = "phone"
    external = "external"


class Channel(StrEnum):
    email = "email"
    webhook = "webhook"
    portal = "portal"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    personal_contact_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    preferred_channel: Mapped[Channel] = mapped_column(String(20), default=Channel.email)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(35))
    topics: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set once, by the erasure (customers/erasure.py): the record stays, without personal data.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    # The admin's words about the request, never the customer's data.
    erased_reason: Mapped[str | None] = mapped_column(Text)

    identifiers: Mapped[list[CustomerIdentifier]] = relationship(
        lazy="raise", order_by="CustomerIdentifier.id", cascade="all, delete-orphan"
    )


class CustomerIdentifier(Base):
    """One way to recognise a customer; the same value never belongs to two customers."""

    __tablename__ = "customer_identifiers"
    __table_args__ = (UniqueConstraint("kind", "system", "value"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentifierKind] = mapped_column(String(20))
    # For external ids, the system that issued them ("shopify"); empty for e-mails and phones.
    system: Mapped[str] = mapped_column(String(50), default="")
    value: Mapped[str] = mapped_column(String(320))


class CustomerFact(Base):
    """Something the company was told once and must not ask again."""

    __tablename__ = "customer_facts"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)

    customer: Mapped[Customer] = relationship(lazy="raise")
