"""An inbound e-mail becomes the customer's words on their case: a reply threads onto the case it
answers (only if that case is theirs), anything else opens a new case. Machine mail is ignored
and never answered. Writes in the caller's transaction; flushes, never commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ownwell.cases import lifecycle
from ownwell.cases import repository as case_repository
from ownwell.cases import rules as case_rules
from ownwell.cases.models import Case, CaseChannel, CaseKind, CaseStatus, Visibility
from ownwell.cases.service import add_message, open_case
from ownwell.config import Settings
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer
from ownwell.customers.schemas import CustomerIn
from ownwell.errors import NotFound
from ownwell.intake import rules
from ownwell.intake.parse import ParsedEmail, UnreadableEmail, parse_email
from ownwell.notifications.models import OutboxMessage
from ownwell.notifications.senders import mail_domain

log = logging.getLogger("ownwell.intake")


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # "opened" | "threaded" | "ignored" | "refused"
    case_id: str | None = None
    customer_id: str | None = None
    reason: str = ""


def _customer(session: Session, mail: ParsedEmail, *, now: datetime, settings: Settings) -> Customer | None:
    try:
        data = CustomerIn(emails=[mail.sender], name=mail.sender_name or None)
    except ValidationError:
        try:  # a display name we cannot keep must not lose the customer's words
            data = CustomerIn(emails=[mail.sender])
        except ValidationError:
            return None
    return customer_service.recognise_or_create(
        session, data=data, now=now, default_timezone=settings.timezone, prefix="from."
    )


def _case_of(session: Session, hint: rules.ThreadHint) -> Case | None:
    case_id = hint.case_id
    if hint.outbox_id is not None:
        row = session.get(OutboxMessage, hint.outbox_id)
        case_id = row.case_id if row is not None else None
    if case_id is None:
        return None
    try:
        return case_repository.get(session, case_id, for_update=True)
    except NotFound:
        return None


def find_thread(session: Session, mail: ParsedEmail, customer: Customer, settings: Settings) -> Case | None:
    """The case this mail answers, if a hint points at one of this customer's cases."""
    for hint in rules.thread_hints(mail, mail_domain(settings)):
        case = _case_of(session, hint)
        if case is not None and case.customer_id == customer.id:
            return case
    return None


def receive_email(
    session: Session,
    *,
    raw: bytes,
    now: datetime,
    settings: Settings,
    envelope_rcpts: list[str] | None = None,
    envelope_from: str | None = None,
) -> IntakeResult:
    """outcome "opened" or "threaded" (with the case), "ignored" (machine mail or no usable
    sender: nothing stored, nothing answered) or "refused" (unreadable: nothing stored)."""
    try:
        mail = parse_email(raw, envelope_rcpts)
    except UnreadableEmail as exc:
        log.warning("refused unreadable mail: %s", exc)
        return IntakeResult("refused", reason=str(exc))
    reason = rules.automatic_reason(mail, envelope_from)
    if reason is not None:
        log.info("ignored automatic mail from %r: %s", mail.sender, reason)
        return IntakeResult("ignored", reason=reason)
    customer = _customer(session, mail, now=now, settings=settings)
    if customer is None:
        log.info("ignored mail without a usable sender address: %r", mail.sender)
        return IntakeResult("ignored", reason="no usable From address")
    body = mail.text() or "(the e-mail had no text)"
    case = find_thread(session, mail, customer, settings)
    if case is not None:
        if not case_rules.is_active(CaseStatus(case.status)):
            lifecycle.reopen_case(
                session,
                case=case,
                reason="You wrote to us again by e-mail.",
                actor=None,
                now=now,
                settings=settings,
                customer_actor=customer,
            )
        add_message(
            session,
            case=case,
            body=body,
            visibility=Visibility.customer,
            actor=None,  # the customer wrote it themselves; nobody relayed it
            now=now,
            settings=settings,
            from_customer=True,
        )
        return IntakeResult("threaded", case_id=case.id, customer_id=customer.id)
    case = open_case(
        session,
        customer=customer,
        subject=mail.subject,
        body=body,
        kind=CaseKind.question,
        channel=CaseChannel.email,
        department_id=None,
        order_id=None,
        actor=None,
        now=now,
        settings=settings,
    )
    return IntakeResult("opened", case_id=case.id, customer_id=customer.id)
