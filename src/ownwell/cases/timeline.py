"""Appending to the timeline. Only service functions call this, inside their own change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ownwell.cases.models import CaseEvent, Visibility
from ownwell.customers.models import Customer
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
    event = CaseEvent(
        id=new_id("evt"),
        case_id=case_id,
        at=at,
        kind=kind,
        actor_staff_id=staff.id if staff else None,
        actor_customer_id=customer.id if customer and not staff else None,
        actor_name=staff.name if staff else (customer.name if customer else None),
        visibility=visibility,
        text=text,
        data=data or {},
    )
    session.add(event)
    return event


def person(staff: Staff) -> dict[str, str]:
    return {"id": staff.id, "name": staff.name}
