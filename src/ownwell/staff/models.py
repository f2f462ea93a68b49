"""Tables of the staff domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Column, ForeignKey, Integer, Numeric, String, Table, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime


class Role(StrEnum):
    agent = "agent"
    supervisor = "supervisor"
    admin = "admin"


class TokenScope(StrEnum):
    """What an API token may do: `staff`, what its holder's role allows; `integrator`, only the
    calls a channel or shop system makes (staff.policies.INTEGRATOR_CALLS)."""

    staff = "staff"
    integrator = "integrator"


staff_departments = Table(
    "staff_departments",
    Base.metadata,
    Column("staff_id", IdStr, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", IdStr, ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Case-folded name: "Shipping" and "shipping " are the same department.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[Role] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Routing picks only people on duty. A deactivated person (active false) is never on duty:
    # staff.service.set_active keeps that, so every "on duty" filter also leaves them out.
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Kept by the case service on every ownership or status change, so routing never counts rows.
    open_case_count: Mapped[int] = mapped_column(Integer, default=0)
    authority_refund: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    authority_credit: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    authority_replacement: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    authority_goodwill: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    departments: Mapped[list[Department]] = relationship(
        secondary=staff_departments, lazy="raise", order_by=Department.name
    )


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and keeps
    # every authenticated request cheap; the clear token is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scope: Mapped[TokenScope] = mapped_column(String(20), default=TokenScope.staff, server_default="staff")
    # None: until revoked. Past it the token is refused as if revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The token's last four characters, so that a list can tell tokens apart (None before 0014c).
    last4: Mapped[str | None] = mapped_column(String(4))
