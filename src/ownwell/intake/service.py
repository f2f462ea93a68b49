"""An inbound e-mail becomes the customer's words on their case: a reply threads onto the case it
answers (only if that case is theirs), anything else opens a new case; its files are kept with
it. Machine mail is ignored and never answered. A message already received does nothing again;
one that cannot be read or processed is quarantined whole instead of half-written.
Writes in the caller's transaction; flushes, never commits."""

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
from ownwell.cases.service import add_message, confirm_sender, open_case
from ownwell.config import Settings
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer
from ownwell.customers.schemas import CustomerIn
from ownwell.errors import Conflict, NotFound
from ownwell.feedback import rules as feedback_rules
from ownwell.feedback.service import kudos_from_message
from ownwell.intake import attachments, authres, quarantine, repository, rules
from ownwell.intake.models import MailSource, QuarantinedMail, QuarantineStatus
from ownwell.intake.parse import ParsedEmail, UnreadableEmail, parse_email
from ownwell.notifications.models import OutboxMessage
from ownwell.notifications.senders import mail_domain

log = logging.getLogger("ownwell.intake")


@dataclass(frozen=True)
class IntakeResult:
    # "opened" | "threaded": on a case; "ignored": machine mail; "duplicate": received before;
    # "quarantined": held whole for an admin; "refused": nothing stored (an attachment too big).
    outcome: str
    case_id: str | None = None
    customer_id: str | None = None
    reason: str = ""
    quarantine_id: str | None = None


class CannotTake(Exception):
    """An expected reason to quarantine a message (logged quietly, not as a crash)."""


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
    source: MailSource = MailSource.smtp,
) -> IntakeResult:
    """Take one message, whole or not at all: on a case (with its files), ignored, a duplicate,
    quarantined, or (SMTP only) refused with the reason for the sender's server to report."""
    key = rules.message_key(raw)
    if repository.already_received(session, key):
        log.info("message %s was already received; nothing done", key)
        return IntakeResult("duplicate", reason="already received")
    arrival = _Arrival(raw=raw, key=key, source=source, rcpts=envelope_rcpts, sender=envelope_from)
    if len(raw) > settings.intake_max_bytes:  # the SMTP listener refuses these before we get here
        reason = f"the message is {len(raw)} bytes; the limit is {settings.intake_max_bytes} bytes"
        return _quarantine(session, arrival, reason=reason, now=now)
    try:
        mail = parse_email(raw, envelope_rcpts)
    except UnreadableEmail as exc:
        return _quarantine(session, arrival, reason=f"unreadable: {exc}", now=now)
    big = rules.oversized(mail.files, settings.intake_attachment_max_bytes)
    if big is not None:
        name = rules.safe_filename(big.filename, big.content_type, 1)
        reason = (
            f"attachment {name!r} is {len(big.content)} bytes; the limit is "
            f"{settings.intake_attachment_max_bytes} bytes per attachment"
        )
        if source == MailSource.smtp:  # the sending server tells its user; we keep nothing
            return IntakeResult("refused", reason=reason)
        return _quarantine(session, arrival, reason=reason, now=now)
    try:
        with session.begin_nested():  # a failure anywhere below leaves no half-written case
            result = _take(session, mail, now=now, settings=settings, envelope_from=envelope_from)
            quarantine.record_received(
                session,
                message_key=key,
                source=source,
                outcome=result.outcome,
                now=now,
                case_id=result.case_id,
            )
    except CannotTake as exc:
        return _quarantine(session, arrival, reason=str(exc), now=now)
    except Exception as exc:
        if repository.already_received(session, key):  # a concurrent delivery of it won
            return IntakeResult("duplicate", reason="already received")
        log.exception("could not process mail %s; quarantining it", key)
        return _quarantine(
            session, arrival, reason=f"processing failed: {type(exc).__name__}: {exc}", now=now
        )
    return result


@dataclass(frozen=True)
class _Arrival:
    raw: bytes
    key: str
    source: MailSource
    rcpts: list[str] | None
    sender: str | None


def _quarantine(session: Session, arrival: _Arrival, *, reason: str, now: datetime) -> IntakeResult:
    held = quarantine.hold(
        session,
        raw=arrival.raw,
        reason=reason,
        source=arrival.source,
        envelope_from=arrival.sender,
        envelope_rcpts=arrival.rcpts,
        now=now,
    )
    quarantine.record_received(
        session,
        message_key=arrival.key,
        source=arrival.source,
        outcome="quarantined",
        now=now,
        quarantine_id=held.id,
    )
    return IntakeResult("quarantined", reason=reason, quarantine_id=held.id)


def retry_quarantined(
    session: Session, *, held: QuarantinedMail, now: datetime, settings: Settings
) -> IntakeResult:
    """An admin has the message taken again (say, once someone is on duty to own it). Taken:
    the quarantine entry is released and points at the case. Still not: nothing changes, and
    the Conflict says why."""
    if held.status != QuarantineStatus.held:
        raise Conflict(f"this mail was already {held.status}", field="quarantine_id", code="not_held")
    try:
        mail = parse_email(held.raw, held.envelope_to)
    except UnreadableEmail as exc:
        raise Conflict(f"still unreadable: {exc}", field="quarantine_id", code="still_failing") from exc
    big = rules.oversized(mail.files, settings.intake_attachment_max_bytes)
    if big is not None:
        raise Conflict(
            f"an attachment is still over the {settings.intake_attachment_max_bytes}-byte limit",
            field="quarantine_id",
            code="still_failing",
        )
    try:
        with session.begin_nested():
            result = _take(session, mail, now=now, settings=settings, envelope_from=held.envelope_from)
    except Exception as exc:
        why = str(exc) if isinstance(exc, CannotTake) else f"{type(exc).__name__}: {exc}"
        raise Conflict(f"still failing: {why}", field="quarantine_id", code="still_failing") from exc
    held.status = QuarantineStatus.released
    received = repository.received_as(session, held.id)
    if received is not None:  # the message's dedup row now tells where it went
        received.outcome = result.outcome
        received.case_id = result.case_id
    session.flush()
    log.info("released quarantined mail %s: %s %s", held.id, result.outcome, result.case_id or "")
    return result


def _take(
    session: Session, mail: ParsedEmail, *, now: datetime, settings: Settings, envelope_from: str | None
) -> IntakeResult:
    reason = rules.automatic_reason(mail, envelope_from)
    if reason is not None:
        log.info("ignored automatic mail from %r: %s", mail.sender, reason)
        return IntakeResult("ignored", reason=reason)
    customer = _customer(session, mail, now=now, settings=settings)
    if customer is None:
        raise CannotTake(f"no usable From address: {mail.sender[:200]!r}")
    body = mail.text() or "(the e-mail had no text)"
    verified = authres.sender_verified(
        mail.message,
        sender=mail.sender,
        trusted_ids=authres.trusted_ids(settings.intake_trusted_authserv_ids),
    )
    with attachments.new_events(session) as events:
        case, outcome = _on_case(
            session, mail, customer, body=body, verified=verified, now=now, settings=settings
        )
    message_event = next((e for e in reversed(events) if e.kind in attachments.INBOUND_KINDS), None)
    attachments.keep_files(
        session, case=case, message_event=message_event, files=mail.files, now=now, settings=settings
    )
    return IntakeResult(outcome, case_id=case.id, customer_id=customer.id)


def _on_case(
    session: Session,
    mail: ParsedEmail,
    customer: Customer,
    *,
    body: str,
    verified: bool,
    now: datetime,
    settings: Settings,
) -> tuple[Case, str]:
    """Thread the mail onto the case it answers, or open one. Mail the receiving server did not
    vouch for (authres) is taken all the same, marked "unverified sender"; a verified reply
    proves the customer holds the address, and clears that mark on its case."""
    case = find_thread(session, mail, customer, settings)
    if case is not None:
        # "Thanks, all sorted!" after the resolution is kept on the timeline, not a reopened case.
        if not case_rules.is_active(CaseStatus(case.status)) and not feedback_rules.is_only_thanks(mail.body):
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
            unverified_sender=not verified,
        )
        if verified:
            confirm_sender(session, case=case, customer=customer, via="e-mail", now=now)
        # Praise in a reply ("Ana was brilliant, thank you") is kudos for the owner, as in the portal.
        kudos_from_message(session, case=case, customer=customer, text=body, now=now)
        return case, "threaded"
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
        unverified_sender=not verified,
    )
    return case, "opened"
