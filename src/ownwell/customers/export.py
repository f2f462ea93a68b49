"""Everything we hold about one customer, as one JSON document (GDPR art. 15 and 20), and as a
ZIP with the files they sent. The document's shape is docs/schemas/customer-export.schema.json.
Reads only."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, undefer

from ownwell.cases.models import Case, CaseEvent, Visibility
from ownwell.commitments.models import Commitment
from ownwell.customers import repository, service
from ownwell.customers.models import Customer
from ownwell.feedback.models import Feedback, Kudos
from ownwell.incidents.models import Incident, IncidentCustomer
from ownwell.intake.models import Attachment
from ownwell.notifications.models import OutboxMessage
from ownwell.offers.models import Offer
from ownwell.orders.models import Order, OrderEvent

FORMAT = "ownwell.customer-export/1"
SCHEMA_PATH = "docs/schemas/customer-export.schema.json"


def _t(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_document(session: Session, *, customer_id: str, now: datetime) -> dict[str, Any]:
    """The customer's record, their cases with the timeline they can see, what we sent them,
    their feedback, orders (with events), kudos, incidents and the files they sent (listed)."""
    customer = repository.get(session, customer_id)
    cases = session.scalars(
        select(Case).options(joinedload(Case.owner)).where(Case.customer_id == customer.id).order_by(Case.id)
    ).all()
    case_ids = [c.id for c in cases]
    by_case: dict[str, dict[str, list[dict[str, Any]]]] = {
        c: {"timeline": [], "commitments": [], "offers": [], "attachments": []} for c in case_ids
    }
    if case_ids:
        for e in session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.visibility == Visibility.customer)
            .order_by(CaseEvent.id)
        ):
            by_case[e.case_id]["timeline"].append(
                {"id": e.id, "at": _t(e.at), "kind": e.kind, "actor_name": e.actor_name, "text": e.text}
            )
        for m in session.scalars(
            select(Commitment).where(Commitment.case_id.in_(case_ids)).order_by(Commitment.id)
        ):
            by_case[m.case_id]["commitments"].append(
                {"id": m.id, "text": m.text, "due_at": _t(m.due_at), "status": str(m.status)}
            )
        for o in session.scalars(select(Offer).where(Offer.case_id.in_(case_ids)).order_by(Offer.id)):
            by_case[o.case_id]["offers"].append(
                {
                    "id": o.id,
                    "type": str(o.type),
                    "amount": str(o.amount),
                    "currency": o.currency,
                    "status": str(o.status),
                    "created_at": _t(o.created_at),
                }
            )
        for a in attachments(session, case_ids, with_content=False):
            by_case[a.case_id]["attachments"].append(_attachment(a))
    feedback = (
        session.scalars(select(Feedback).where(Feedback.case_id.in_(case_ids)).order_by(Feedback.id)).all()
        if case_ids
        else []
    )
    messages = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient_customer_id == customer.id)
        .order_by(OutboxMessage.id)
    ).all()
    orders = session.scalars(select(Order).where(Order.customer_id == customer.id).order_by(Order.id)).all()
    order_events: dict[str, list[dict[str, Any]]] = {o.id: [] for o in orders}
    if orders:
        for ev in session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id.in_(list(order_events)))
            .order_by(OrderEvent.occurred_at)
        ):
            order_events[ev.order_id].append(
                {"type": str(ev.type), "occurred_at": _t(ev.occurred_at), "eta": _t(ev.eta), "note": ev.note}
            )
    kudos = session.scalars(select(Kudos).where(Kudos.customer_id == customer.id).order_by(Kudos.id)).all()
    incidents = session.execute(
        select(Incident.id, Incident.title)
        .join(IncidentCustomer, IncidentCustomer.incident_id == Incident.id)
        .where(IncidentCustomer.customer_id == customer.id)
        .order_by(Incident.id)
    ).all()
    return {
        "format": FORMAT,
        "exported_at": _t(now),
        "customer": _customer(customer, session),
        "cases": [
            {
                "id": c.id,
                "subject": c.subject,
                "kind": str(c.kind),
                "channel": str(c.channel),
                "status": str(c.status),
                "owner": {"id": c.owner.id, "name": c.owner.name},
                "order_id": c.order_id,
                "created_at": _t(c.created_at),
                "resolved_at": _t(c.resolved_at),
                "closed_at": _t(c.closed_at),
                **by_case[c.id],
            }
            for c in cases
        ],
        "messages": [
            {
                "id": m.id,
                "case_id": m.case_id,
                "channel": str(m.channel),
                "recipient": m.recipient,
                "subject": m.subject,
                "body": m.body,
                "status": str(m.status),
                "created_at": _t(m.created_at),
                "sent_at": _t(m.sent_at),
            }
            for m in messages
        ],
        "feedback": [
            {
                "case_id": f.case_id,
                "at": _t(f.at),
                "source": f.source,
                "fixed": f.fixed,
                "csat": f.csat,
                "ces": f.ces,
                "comment": f.comment,
            }
            for f in feedback
        ],
        "orders": [
            {
                "id": o.id,
                "external_id": o.external_id,
                "status": str(o.status),
                "promised_by": _t(o.promised_by),
                "eta": _t(o.eta),
                "delivered_at": _t(o.delivered_at),
                "created_at": _t(o.created_at),
                "events": order_events[o.id],
            }
            for o in orders
        ],
        "kudos": [
            {"id": k.id, "case_id": k.case_id, "text": k.text, "created_at": _t(k.created_at)} for k in kudos
        ],
        "incidents": [{"id": i.id, "title": i.title} for i in incidents],
    }


def _customer(customer: Customer, session: Session) -> dict[str, Any]:
    emails, phones, external = service.identifiers_of(customer)
    facts = [
        {"id": f.id, "text": f.text, "created_at": _t(f.created_at)}
        for f in repository.facts(session, customer.id)
    ]
    quiet = (
        {"start": customer.quiet_start, "end": customer.quiet_end}
        if customer.quiet_start and customer.quiet_end
        else None
    )
    return {
        "id": customer.id,
        "name": customer.name,
        "emails": emails,
        "phones": phones,
        "external_ids": external,
        "preferences": {
            "channel": str(customer.preferred_channel),
            "quiet_hours": quiet,
            "timezone": customer.timezone,
            "language": customer.language,
            "topics": list(customer.topics or []),
            "do_not_contact": customer.do_not_contact,
        },
        "facts": facts,
        "created_at": _t(customer.created_at),
        "erased_at": _t(customer.erased_at),
    }


def _attachment(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "filename": a.filename,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "created_at": _t(a.created_at),
        "zip_path": zip_path(a),
    }


def attachments(session: Session, case_ids: list[str], *, with_content: bool) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.case_id.in_(case_ids)).order_by(Attachment.id)
    if with_content:
        stmt = stmt.options(undefer(Attachment.content))
    return list(session.scalars(stmt))


def zip_path(a: Attachment) -> str:
    safe = re.sub(r"[^A-Za-z0-9._ -]", "_", a.filename).strip(" .") or "file"
    return f"attachments/{a.id}-{safe}"


def export_zip(session: Session, *, customer_id: str, now: datetime) -> bytes:
    """customer.json (the document above) and every file they sent, under attachments/."""
    document = export_document(session, customer_id=customer_id, now=now)
    case_ids = [c["id"] for c in document["cases"]]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("customer.json", json.dumps(document, indent=2, ensure_ascii=False))
        for a in attachments(session, case_ids, with_content=True) if case_ids else []:
            archive.writestr(zip_path(a), a.content)
    return buffer.getvalue()
