"""Retention: with OWNWELL_RETENTION_DAYS set, the worker erases the personal data of customers
with no activity since the cutoff (no case, timeline event, order, message or feedback newer)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ownwell.cases.models import Case, CaseEvent
from ownwell.config import Settings
from ownwell.customers import erasure
from ownwell.customers.models import Customer
from ownwell.feedback.models import Feedback
from ownwell.notifications.models import OutboxMessage
from ownwell.orders.models import Order

log = logging.getLogger("ownwell.customers.retention")
BATCH = 100


def inactive_since(session: Session, *, cutoff: datetime, limit: int) -> list[Customer]:
    """Customers not yet erased, known before the cutoff, with nothing of theirs since."""
    own_case = Case.customer_id == Customer.id
    stmt = (
        select(Customer)
        .where(
            Customer.erased_at.is_(None),
            Customer.created_at < cutoff,
            Customer.updated_at < cutoff,
            ~exists().where(own_case, Case.updated_at >= cutoff),
            ~exists().where(CaseEvent.case_id == Case.id, own_case, CaseEvent.at >= cutoff),
            ~exists().where(Feedback.case_id == Case.id, own_case, Feedback.at >= cutoff),
            ~exists().where(Order.customer_id == Customer.id, Order.updated_at >= cutoff),
            ~exists().where(
                OutboxMessage.recipient_customer_id == Customer.id, OutboxMessage.created_at >= cutoff
            ),
        )
        .order_by(Customer.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def erase_inactive(session: Session, *, now: datetime, settings: Settings) -> int:
    """One batch per sweep; each customer in a savepoint, so a bad one holds no other back."""
    if settings.retention_days is None:
        return 0
    cutoff = now - timedelta(days=settings.retention_days)
    reason = f"retention: no activity since {cutoff.date().isoformat()}"
    done = 0
    for customer in inactive_since(session, cutoff=cutoff, limit=BATCH):
        try:
            with session.begin_nested():
                rows = erasure.erase_customer(session, customer=customer, reason=reason, actor=None, now=now)
        except Exception:
            log.exception(
                "could not erase customer %s for retention; the next sweep tries again", customer.id
            )
            continue
        log.info("%s: erased customer %s (%d row(s))", reason, customer.id, rows)
        done += 1
    return done
