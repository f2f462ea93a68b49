"""Tables of the orders domain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ownwell.customers.models import Customer
from ownwell.db import Base
from ownwell.kit.types import IdStr, UTCDateTime


class OrderEventType(StrEnum):
    shipped = "shipped"
    delayed = "delayed"
    exception = "exception"
    delivered = "delivered"
    cancelled = "cancelled"


class OrderStatus(StrEnum):
    placed = "placed"
    shipped = "shipped"
    delayed = "delayed"
    exception = "exception"
    delivered = "delivered"
    cancelled = "cancelled"


# Nothing more is owed on these: no delay can be detected any more.
SETTLED_STATUSES = (OrderStatus.delivered, OrderStatus.cancelled)


class TroubleReason(StrEnum):
    late_eta = "late_eta"
    exception = "exception"
    promise_passed = "promise_passed"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # The late sweep asks for untroubled orders whose promise has passed.
        Index("ix_orders_trouble_promised", "trouble_case_id", "promised_by"),
        # The department error rate (metrics): a department's orders per period (0013).
        Index("ix_orders_department_created", "department_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    # The id the shop or fulfilment system knows the order by; events arrive with it.
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="RESTRICT"), index=True)
    # P2: the department that fulfils the order owns its problems.
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    promised_by: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[OrderStatus] = mapped_column(String(20))
    # The latest delivery estimate the carrier gave, if any.
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The one case that handles this order's trouble: set the first time, so never two.
    trouble_case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    trouble_reason: Mapped[TroubleReason | None] = mapped_column(String(30))
    trouble_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Declared so the unit of work inserts parents first; never loaded implicitly.
    customer: Mapped[Customer] = relationship(lazy="raise")


class OrderEvent(Base):
    """What the fulfilment side told us, once: a replay of the same event is a duplicate."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "type", "occurred_at"),)

    id: Mapped[str] = mapped_column(IdStr, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    type: Mapped[OrderEventType] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    order: Mapped[Order] = relationship(lazy="raise")
