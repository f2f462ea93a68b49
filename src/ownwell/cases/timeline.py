"""Appending to the timeline. Only service functions call this, inside their own change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ownwell.cases.models import CaseEvent, Visibility
from ownwell.customers.models import Customer
from ownwell.db import add_new_row
from ownwell.kit.ids import new_id
from ownwell.staff.models import Staff


def record(
    session: Session,
    *,
    case_id: str,
    kind: str,
    at: datetime,
    visibility: Visibility,
    text: str = "",
    staff: Staff | None = None,
    customer: Customer | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    event = CaseEvent(**_values(case_id, kind, at, visibility, text, staff, customer, data))
    session.add(event)
    return event


def append(
    session: Session,
    *,
    case_id: str,
    kind: str,
    at: datetime,
    visibility: Visibility,
    text: str = "",
    staff: Staff | None = None,
    customer: Customer | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """`record`, for a caller that does not need the event back: in group commit's shared block
    (the API intake) the event is a plain new row (db.add_new_row), not an ORM object, so no
    session event sees it (e-mail intake links attachments to its event through one, and so
    records it with `record`)."""
    values = _values(case_id, kind, at, visibility, text, staff, customer, data)
    if not add_new_row(session, CaseEvent.__table__, values):
        session.add(CaseEvent(**values))


def _values(
    case_id: str,
    kind: str,
    at: datetime,
    visibility: Visibility,
    text: str,
    staff: Staff | None,
    customer: Customer | None,
    data: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "case_id": case_id,
        "at": at,
        "kind": kind,
        "actor_staff_id": staff.id if staff else None,
        "actor_customer_id": customer.id if customer and not staff else None,
        "actor_name": staff.name if staff else (customer.name if customer else None),
        "visibility": visibility,
        "text": text,
        "data": data or {},
    }


def person(staff: Staff) -> dict[str, str]:
    return {"id": staff.id, "name": staff.name}
