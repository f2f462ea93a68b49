"""Erasing a customer's personal data (GDPR art. 17), everywhere it lives, in one transaction.

`COLUMNS` below names every column of every table that can hold text or bytes, and says what the
erasure does with it; `erase_customer` does exactly that, one explicit statement per table.
`tests/test_gdpr.py` fails when a model gains such a column that `COLUMNS` does not name, so a
new place for personal data cannot be forgotten here.

Rows that metrics count stay (cases, timeline events' kinds and times, commitments, offers,
feedback scores, kudos, orders): only their personal fields are blanked, so the figures of any
period are the same after an erasure. Rows nothing counts (identifiers, facts, attachments,
quarantined mail, incident membership, case vectors) are deleted.

After the commit, `purge_copies` removes what the database keeps of the old values outside the
live rows (see its docstring). Writes in the caller's transaction; flushes, never commits.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, event, func, literal, or_, select, update
from sqlalchemy.orm import Session

from ownwell.audit import service as audit
from ownwell.cases.models import Case, CaseEvent
from ownwell.commitments.models import Commitment, CommitmentRenegotiation
from ownwell.customers.models import Customer, CustomerFact, CustomerIdentifier, IdentifierKind
from ownwell.feedback.models import Feedback, Kudos
from ownwell.incidents.models import IncidentCustomer
from ownwell.insights import rules as insight_rules
from ownwell.insights import vectors
from ownwell.insights.models import CaseVector, RecurringIssue
from ownwell.intake.models import Attachment, InboundMail, QuarantinedMail
from ownwell.knowledge.models import Article, Question
from ownwell.notifications.models import OutboxMessage, OutboxStatus
from ownwell.offers.models import Offer
from ownwell.orders.models import Order, OrderEvent
from ownwell.staff.models import Staff

log = logging.getLogger("ownwell.customers.erasure")

ERASED_NAME = "Erased customer"
ERASED_SUBJECT = "(erased)"
NOT_SENT = "not sent: the customer's personal data was erased"

# Verdicts for columns that hold no customer's personal data.
STAFF = "not the customer's: staff, departments, sign-in and settings"
COMPANY = "not the customer's: written by staff about the company, not about one customer"
TECHNICAL = "not personal: a kind, a status, a code or a hash"

# Every text, JSON or binary column of every table, and what the erasure does with it.
COLUMNS: dict[str, str] = {
    # operations and the audit log (issues #23, #25)
    "api_tokens.last4": STAFF,
    "api_tokens.scope": TECHNICAL,
    "audit_log.action": TECHNICAL,
    "audit_log.actor_id": STAFF,
    "audit_log.actor_label": STAFF,
    "audit_log.after": "settings, staff and token changes only; an erasure's own row holds counts, not data",
    "audit_log.before": "settings, staff and token changes only",
    "audit_log.reason": "the admin's reason for an erasure, written without personal data",
    "audit_log.target_id": TECHNICAL,
    "audit_log.target_type": TECHNICAL,
    "idempotency_keys.answer": "the id of the case a request made, nothing of its content",
    "idempotency_keys.fingerprint": TECHNICAL,
    "idempotency_keys.key": "a client's request key, gone after a day",
    "offers.deciding_department_ids": TECHNICAL,
    "worker_heartbeats.worker": TECHNICAL,
    # customers
    "customers.name": f"replaced with {ERASED_NAME!r}",
    "customers.preferred_channel": TECHNICAL,
    "customers.quiet_start": "cleared",
    "customers.quiet_end": "cleared",
    "customers.timezone": "kept: a zone shared by millions, needed to read the record's times",
    "customers.language": "cleared",
    "customers.topics": "cleared (free text)",
    "customers.erased_reason": "the admin's reason for the erasure, written without personal data",
    "customer_identifiers.kind": "row deleted",
    "customer_identifiers.system": "row deleted",
    "customer_identifiers.value": "row deleted: no former identifier finds the record",
    "customer_facts.text": "row deleted",
    "customer_facts.data": "row deleted",
    # cases and their timelines
    "cases.subject": f"replaced with {ERASED_SUBJECT!r}",
    "cases.kind": TECHNICAL,
    "cases.channel": TECHNICAL,
    "cases.status": TECHNICAL,
    "cases.order_id": TECHNICAL,
    "cases.incident_id": TECHNICAL,
    "cases.recurring_issue_id": TECHNICAL,
    "case_events.kind": "kept: metrics count events by kind and time",
    "case_events.actor_name": "cleared where the customer was the actor (staff names stay)",
    "case_events.visibility": TECHNICAL,
    "case_events.text": "blanked on their cases; a recurring-issue label taken from their words is "
    "replaced on every case",
    "case_events.data": "on their cases only ids, times, numbers and known enum values stay",
    "cadence_policies.kind": TECHNICAL,
    "commitments.text": "blanked (status and times stay for the promise-kept rate)",
    "commitments.status": TECHNICAL,
    "commitment_renegotiations.note": "blanked",
    "offers.type": TECHNICAL,
    "offers.currency": TECHNICAL,
    "offers.note": "blanked (amount and decision stay)",
    "offers.status": TECHNICAL,
    "offers.decision_note": "cleared",
    # feedback
    "feedback.source": TECHNICAL,
    "feedback.comment": "cleared (scores stay for CSAT and CES)",
    "follow_ups.kind": TECHNICAL,
    "follow_ups.status": TECHNICAL,
    "kudos.text": "blanked: the customer's words (the credit to staff stays)",
    "kudos.source": TECHNICAL,
    # intake
    "inbound_mail.message_key": "replaced with a hash, so the Message-ID no longer names them",
    "inbound_mail.source": TECHNICAL,
    "inbound_mail.outcome": TECHNICAL,
    "quarantined_mail.source": "row deleted when from or about them",
    "quarantined_mail.envelope_from": "row deleted when from or about them",
    "quarantined_mail.envelope_to": "row deleted when from or about them",
    "quarantined_mail.message_id": "row deleted when from or about them",
    "quarantined_mail.subject": "row deleted when from or about them",
    "quarantined_mail.reason": "row deleted when from or about them",
    "quarantined_mail.status": "row deleted when from or about them",
    "quarantined_mail.raw": "row deleted when from or about them",
    "attachments.filename": "row deleted",
    "attachments.content_type": "row deleted",
    "attachments.sha256": "row deleted",
    "attachments.content": "row deleted",
    # outbox
    "outbox_messages.idempotency_key": TECHNICAL,
    "outbox_messages.channel": TECHNICAL,
    "outbox_messages.recipient": "blanked when it was the customer (staff recipients stay)",
    "outbox_messages.kind": TECHNICAL,
    "outbox_messages.subject": "blanked on messages to them or about their cases",
    "outbox_messages.body": "blanked on messages to them or about their cases",
    "outbox_messages.headers": "cleared on messages to them or about their cases",
    "outbox_messages.status": "unsent messages to them or about their cases become failed",
    "outbox_messages.last_error": "replaced on messages to them or about their cases",
    # orders
    "orders.external_id": "replaced with 'erased-<order id>': the shop's number links to them",
    "orders.status": TECHNICAL,
    "orders.trouble_reason": TECHNICAL,
    "order_events.type": TECHNICAL,
    "order_events.note": "cleared",
    # incidents
    "incidents.title": COMPANY,
    "incident_updates.message": COMPANY,
    "incident_updates.fanout_after": TECHNICAL,
    # incident_customers and incident_cases: their rows are deleted (ids only).
    # recurring issues
    "recurring_issues.label": "replaced when it was taken from one of their cases' subjects",
    "recurring_issues.vector_sum": "their cases' vectors are subtracted",
    "recurring_issues.root_cause": COMPANY,
    "case_vectors.vector": "row deleted (the case keeps its issue id, so counts stay)",
    "prevention_actions.text": COMPANY,
    "prevention_actions.status": TECHNICAL,
    # knowledge
    "questions.question": "blanked on their cases",
    "questions.status": TECHNICAL,
    "questions.answer": "cleared on their cases",
    "questions.article_id": TECHNICAL,
    "knowledge_articles.title": COMPANY + "; the link to their case is cleared",
    "knowledge_articles.body": COMPANY,
    "knowledge_articles.tags": COMPANY,
    "knowledge_articles.question_id": TECHNICAL,
    "knowledge_tips.recurring_issue_id": TECHNICAL,
    "knowledge_tips.text": COMPANY,
    # staff and the web app
    "departments.name": STAFF,
    "departments.name_key": STAFF,
    "staff.name": STAFF,
    "staff.email": STAFF,
    "staff.role": STAFF,
    "staff.password_hash": STAFF,
    "api_tokens.token_hash": STAFF,
    "web_sessions.csrf_secret": STAFF,
}

# Timeline `data` keys whose short lower-case values are enum values, not anyone's words.
_ENUM_KEYS = frozenset(
    {"source", "reason", "old", "new", "kind", "channel", "status", "type", "message_kind", "outcome"}
)
_ID = re.compile(r"^[a-z]{2,4}_[0-9a-z]{10,40}$")
_ENUM = re.compile(r"^[a-z_]{1,40}$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?$")


def scrub_data(value: Any, key: str = "") -> Any:
    """What of a timeline event's `data` survives an erasure: ids, times, numbers, booleans,
    known enum values and staff members ({id, name} of `stf_` ids); every other string goes."""
    if isinstance(value, dict):
        if set(value) == {"id", "name"} and str(value.get("id", "")).startswith("stf_"):
            return value
        return {k: scrub_data(v, k) for k, v in value.items() if _kept(v, k)}
    if isinstance(value, list):
        return [scrub_data(v, key) for v in value if _kept(v, key)]
    return value


def _kept(value: Any, key: str) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_ID.match(value) or _TIME.match(value) or (key in _ENUM_KEYS and _ENUM.match(value)))


def erase_customer(
    session: Session, *, customer: Customer, reason: str, actor: Staff | None, now: datetime
) -> int:
    """Remove the customer's personal data from every table in `COLUMNS`; returns how many rows
    were changed or deleted. The customer row stays as "Erased customer" with who erased it,
    when and why. Erasing an erased customer again changes nothing but the record."""
    customer_id = customer.id
    identifiers = session.execute(
        select(CustomerIdentifier.kind, CustomerIdentifier.value).where(
            CustomerIdentifier.customer_id == customer_id
        )
    ).all()
    addresses = sorted({value.lower() for kind, value in identifiers if kind == IdentifierKind.email})
    recipients = sorted({value.lower() for _, value in identifiers})
    cases = session.execute(select(Case.id, Case.subject).where(Case.customer_id == customer_id)).all()
    case_ids = [c.id for c in cases]
    subjects = [c.subject for c in cases]
    count = 0

    # Recurring issues first: their vectors and labels are read before the cases change.
    count += _erase_from_recurring_issues(session, case_ids=case_ids, subjects=subjects, now=now)
    count += _erase_mail(session, case_ids=case_ids, addresses=addresses)
    count += _run(
        session,
        delete(CustomerIdentifier).where(CustomerIdentifier.customer_id == customer_id),
        delete(CustomerFact).where(CustomerFact.customer_id == customer_id),
        delete(IncidentCustomer).where(IncidentCustomer.customer_id == customer_id),
        update(Order)
        .where(Order.customer_id == customer_id)
        .values(external_id=literal("erased-") + Order.id, updated_at=now),
        update(OrderEvent)
        .where(OrderEvent.order_id.in_(select(Order.id).where(Order.customer_id == customer_id)))
        .values(note=None),
        update(Kudos).where(Kudos.customer_id == customer_id).values(text=""),
        update(CaseEvent).where(CaseEvent.actor_customer_id == customer_id).values(actor_name=None, text=""),
        *_outbox_statements(customer_id, recipients),
        update(OutboxMessage)
        .where(
            or_(
                OutboxMessage.recipient_customer_id == customer_id,
                func.lower(OutboxMessage.recipient).in_(recipients),
            )
        )
        .values(recipient=""),
    )
    for chunk in _chunks(case_ids):
        count += _run(
            session,
            update(Case).where(Case.id.in_(chunk)).values(subject=ERASED_SUBJECT),
            update(CaseEvent).where(CaseEvent.case_id.in_(chunk)).values(text=""),
            update(Commitment).where(Commitment.case_id.in_(chunk)).values(text=""),
            update(CommitmentRenegotiation)
            .where(
                CommitmentRenegotiation.commitment_id.in_(
                    select(Commitment.id).where(Commitment.case_id.in_(chunk))
                )
            )
            .values(note=""),
            update(Offer).where(Offer.case_id.in_(chunk)).values(note="", decision_note=None),
            update(Feedback).where(Feedback.case_id.in_(chunk)).values(comment=None),
            update(Kudos).where(Kudos.case_id.in_(chunk)).values(text=""),
            update(Question).where(Question.case_id.in_(chunk)).values(question="", answer=None),
            update(Article).where(Article.source_case_id.in_(chunk)).values(source_case_id=None),
            delete(Attachment).where(Attachment.case_id.in_(chunk)),
        )
        count += _scrub_event_data(session, chunk)

    customer.name = ERASED_NAME
    customer.quiet_start = customer.quiet_end = None
    customer.language = None
    customer.topics = []
    customer.do_not_contact = True  # nothing is sent to a record without an address
    customer.erased_at = now
    customer.erased_by_id = actor.id if actor is not None else None
    customer.erased_reason = reason
    customer.updated_at = now
    session.flush()
    audit.record(
        session,
        action="customer.erased",
        target_type="customer",
        target_id=customer_id,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.name if actor is not None else audit.WORKER,
        now=now,
        after={"rows_changed_or_deleted": count + 1},
        reason=reason,
    )
    session.expire(customer)  # its identifiers are gone
    _purge_after_commit_of(session)
    log.debug("erased the personal data of customer %s: %d row(s) changed or deleted", customer_id, count + 1)
    return count + 1


def _outbox_statements(customer_id: str, recipients: Sequence[str]) -> list[Any]:
    """Messages to the customer or about their cases: unsent ones fail (nothing more is said
    about an erased customer), then every one of them loses its words."""
    about = or_(
        OutboxMessage.recipient_customer_id == customer_id,
        func.lower(OutboxMessage.recipient).in_(recipients),
        OutboxMessage.case_id.in_(select(Case.id).where(Case.customer_id == customer_id)),
    )
    unsent = OutboxMessage.status.in_((OutboxStatus.queued, OutboxStatus.held, OutboxStatus.retrying))
    return [
        update(OutboxMessage)
        .where(about, unsent)
        .values(status=OutboxStatus.failed, next_attempt_at=None, claimed_until=None),
        update(OutboxMessage).where(about).values(subject="", body="", headers={}, last_error=NOT_SENT),
    ]


def _run(session: Session, *statements: Any) -> int:
    count = 0
    for statement in statements:
        result = session.execute(statement, execution_options={"synchronize_session": False})
        count += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return count


def _chunks(ids: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _scrub_event_data(session: Session, case_ids: Sequence[str]) -> int:
    rows = session.execute(select(CaseEvent.id, CaseEvent.data).where(CaseEvent.case_id.in_(case_ids))).all()
    changed = [(row.id, scrub_data(row.data or {})) for row in rows]
    changed = [
        (event_id, data) for (event_id, data), row in zip(changed, rows, strict=True) if data != row.data
    ]
    for event_id, data in changed:
        session.execute(update(CaseEvent).where(CaseEvent.id == event_id).values(data=data))
    return len(changed)


def _erase_mail(session: Session, *, case_ids: Sequence[str], addresses: Sequence[str]) -> int:
    """Quarantined mail from or about them is deleted; the Message-IDs of mail they sent become
    hashes (a re-delivery of an old message is then taken as new mail, from a new customer)."""
    held: set[str] = set()
    wanted = [a.encode() for a in addresses]
    # Quarantine is small (an admin reads it): the raw bytes are searched here, row by row.
    for row in session.execute(
        select(QuarantinedMail.id, QuarantinedMail.envelope_from, QuarantinedMail.raw)
    ):
        sender = (row.envelope_from or "").lower()
        raw = (row.raw or b"").lower()
        if sender in addresses or any(a in raw for a in wanted):
            held.add(row.id)
    for chunk in _chunks(case_ids):
        held.update(
            q
            for q in session.scalars(
                select(InboundMail.quarantine_id).where(
                    InboundMail.case_id.in_(chunk), InboundMail.quarantine_id.is_not(None)
                )
            )
            if q
        )
    count = 0
    keys = []
    for chunk in [*_chunks(case_ids), *_chunks(sorted(held))]:
        keys += session.execute(
            select(InboundMail.id, InboundMail.message_key).where(
                or_(InboundMail.case_id.in_(chunk), InboundMail.quarantine_id.in_(chunk))
            )
        ).all()
    for mail_id, key in dict(keys).items():
        if not key.startswith("erased:"):
            digest = hashlib.sha256(key.encode()).hexdigest()
            session.execute(
                update(InboundMail).where(InboundMail.id == mail_id).values(message_key=f"erased:{digest}")
            )
            count += 1
    for chunk in _chunks(sorted(held)):
        count += _run(session, delete(QuarantinedMail).where(QuarantinedMail.id.in_(chunk)))
    return count


def _erase_from_recurring_issues(
    session: Session, *, case_ids: Sequence[str], subjects: Sequence[str], now: datetime
) -> int:
    """Their cases' vectors leave their issues' sums and are deleted (the cases keep the issue id,
    so counts stay); an issue labelled with one of their subjects gets a neutral label, on the
    issue and wherever the timeline or a staff alert quoted it."""
    count = 0
    members: list[tuple[str, bytes]] = []
    for chunk in _chunks(case_ids):
        members += [
            (r.issue_id, r.vector)
            for r in session.execute(
                select(CaseVector.issue_id, CaseVector.vector).where(CaseVector.case_id.in_(chunk))
            )
        ]
    issue_ids = {issue_id for issue_id, _ in members}
    for chunk in _chunks(case_ids):
        issue_ids.update(
            i for i in session.scalars(select(Case.recurring_issue_id).where(Case.id.in_(chunk))) if i
        )
    issues = {
        i.id: i
        for i in session.scalars(select(RecurringIssue).where(RecurringIssue.id.in_(sorted(issue_ids))))
    }
    for issue_id, vector in members:
        issue = issues.get(issue_id)
        if issue is not None and vectors.fits(vector) and vectors.fits(issue.vector_sum):
            left = vectors.from_bytes(issue.vector_sum) - vectors.from_bytes(vector)
            issue.vector_sum = vectors.to_bytes(np.where(np.abs(left) < 1e-6, 0, left))
            issue.updated_at = now
    for chunk in _chunks(case_ids):
        count += _run(session, delete(CaseVector).where(CaseVector.case_id.in_(chunk)))
    labels = {insight_rules.label_for(s) for s in subjects}
    for issue in issues.values():
        if issue.label in labels or any(issue.label in s for s in subjects):
            old, new = issue.label, f"Recurring issue {issue.id[-6:]}"
            issue.label = new
            issue.updated_at = now
            count += 1 + _run(
                session,
                update(CaseEvent)
                .where(CaseEvent.text.contains(old, autoescape=True))
                .values(text=func.replace(CaseEvent.text, old, new)),
                update(OutboxMessage)
                .where(OutboxMessage.subject.contains(old, autoescape=True))
                .values(subject=func.replace(OutboxMessage.subject, old, new)),
                update(OutboxMessage)
                .where(OutboxMessage.body.contains(old, autoescape=True))
                .values(body=func.replace(OutboxMessage.body, old, new)),
            )
    session.flush()
    return count


# The tables an erasure writes: what `purge_copies` vacuums on PostgreSQL.
TOUCHED_TABLES = (
    "customers",
    "customer_identifiers",
    "customer_facts",
    "cases",
    "case_events",
    "commitments",
    "commitment_renegotiations",
    "offers",
    "feedback",
    "kudos",
    "questions",
    "knowledge_articles",
    "attachments",
    "inbound_mail",
    "quarantined_mail",
    "outbox_messages",
    "orders",
    "order_events",
    "incident_customers",
    "incident_cases",
    "recurring_issues",
    "case_vectors",
)


_LISTENING = "ownwell.erasure.listening"
_PENDING = "ownwell.erasure.purge_pending"


def _purge_after_commit_of(session: Session) -> None:
    """Have `purge_copies` run once the outermost transaction commits (never after a rollback:
    then nothing was erased)."""
    session.info[_PENDING] = True
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _purge_after_commit)
        event.listen(session, "after_soft_rollback", _forget_purge)


def _forget_purge(session: Session, previous_transaction: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def _purge_after_commit(session: Session) -> None:
    # after_commit also fires when a savepoint is released; the outer transaction still holds
    # the write lock then, and the checkpoint would wait for it.
    if session.in_nested_transaction() or not session.info.pop(_PENDING, False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        purge_copies(engine)
    except Exception:  # the erasure is committed; the copies go at the next purge
        log.exception("could not purge old copies after an erasure; run it again or VACUUM")


def purge_copies(engine: Engine) -> None:
    """Remove what the database keeps of erased values outside the live rows, after the commit.

    SQLite: every connection runs with `secure_delete=ON` (db.py), so deleted rows and the old
    contents of updated cells are zeroed in the database file as they are written, free pages
    included. The old versions still sit in the write-ahead log until a checkpoint copies the
    new pages back; `wal_checkpoint(TRUNCATE)` does that and empties the -wal file (the -shm
    file holds only an index of page numbers). VACUUM is not needed with secure_delete and
    would cost a rewrite of the whole file (through the WAL again) on every erasure.

    PostgreSQL: an UPDATE or DELETE leaves the old row version as a dead tuple in its table and
    index pages, and the change's WAL records (with the old values for full-page images) in
    pg_wal, until VACUUM reclaims the tuples and checkpoints recycle the WAL segments. Here each
    touched table is vacuumed (plain VACUUM, on an AUTOCOMMIT connection, after the commit): it
    removes the dead tuples a running transaction does not still see; bytes of a removed tuple
    can stay in a page's free space until it is reused, and WAL archives or base backups keep
    what they copied (their own retention applies). `VACUUM FULL` rewrites the tables but locks
    them; an operator can run it in a quiet hour.
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            for _ in range(100):
                cursor = raw.cursor()
                busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                cursor.close()
                if not busy:
                    return
                time.sleep(0.05)  # a reader holds an older snapshot; it ends in a moment
            log.warning("the WAL could not be checkpointed after an erasure: readers kept it busy")
        finally:
            raw.close()
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in TOUCHED_TABLES:
                conn.exec_driver_sql(f'VACUUM "{table}"')
