"""What a customer does on their case page: reply, say what would be fair, ask for a fresh link.
Each is one state change with its timeline event and outbox rows; they flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.cases import lifecycle, timeline
from ownwell.cases import rules as case_rules
from ownwell.cases.models import Case, CaseEvent, CaseStatus, Visibility
from ownwell.cases.service import add_message, case_portal_url, confirm_sender
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.customers.models import Channel, Customer, IdentifierKind
from ownwell.customers.rules import normalise_email
from ownwell.feedback import rules as feedback_rules
from ownwell.feedback.service import kudos_from_message
from ownwell.notifications.outbox import enqueue, enqueue_to_staff
from ownwell.portal import repository
from ownwell.portal.repository import FAIR_SOLUTION

FRESH_LINK_CASES = 5


def _staff_case_url(settings: Settings, case_id: str) -> str:
    return f"{settings.base_url}/app/cases/{case_id}"


def customer_reply(
    session: Session, *, case: Case, customer: Customer, body: str, now: datetime, settings: Settings
) -> None:
    """The customer's words from the portal land on the timeline like an e-mail reply would:
    a case waiting on them is open again, a finished one is reopened for the same owner — unless
    the words only say thank you. The link to this page only ever went to the customer's address,
    so a reply here also proves they hold it (a help-form case is no longer unverified)."""
    text = body.strip()
    if not case_rules.is_active(CaseStatus(case.status)) and not feedback_rules.is_only_thanks(text):
        lifecycle.reopen_case(
            session,
            case=case,
            reason="You wrote to us again on your case page.",
            actor=None,
            now=now,
            settings=settings,
            customer_actor=customer,
        )
    add_message(
        session,
        case=case,
        body=text,
        visibility=Visibility.customer,
        actor=None,  # the customer wrote it themselves
        now=now,
        settings=settings,
        from_customer=True,
    )
    confirm_sender(session, case=case, customer=customer, via="case page", now=now)
    kudos_from_message(session, case=case, customer=customer, text=text, now=now)
    session.flush()


def propose_fair_solution(
    session: Session, *, case: Case, customer: Customer, text: str, now: datetime, settings: Settings
) -> CaseEvent:
    """P8: the customer's own idea of a fair solution, kept on the timeline (the latest one is
    what offers are weighed against) and sent to the owner straight away."""
    words = text.strip()
    event = timeline.record(
        session,
        case_id=case.id,
        kind=FAIR_SOLUTION,
        at=now,
        visibility=Visibility.customer,  # the customer sees what they asked for, as we recorded it
        text=words,
        customer=customer,
        data={"owner": timeline.person(case.owner)},
    )
    case.updated_at = now
    owner = case.owner
    enqueue_to_staff(
        session,
        staff_id=owner.id,
        email=owner.email,
        key=f"fair-solution:{event.id}",
        kind="fair_solution",
        subject=f"{customer.name} says what would be fair: {case.subject}",
        body=(
            f"{owner.name}, {customer.name} told us on their case page what they would consider a "
            f"fair solution to {case.subject!r}:\n\n{words}\n\n"
            f"Weigh it before you make an offer, and answer them.\n\n{_staff_case_url(settings, case.id)}"
        ),
        now=now,
        settings=settings,
        case_id=case.id,
    )
    session.flush()
    return event


def send_fresh_links(session: Session, *, email: str, now: datetime, settings: Settings) -> bool:
    """Queue fresh links to the customer's newest cases to this address, if it is one of a
    customer's e-mail addresses. The caller shows the same answer either way (no enumeration);
    the result is for logs and tests only."""
    try:
        address = normalise_email(email)
    except ValueError:
        return False
    customer = customer_repository.find_by_identifier(session, (IdentifierKind.email, "", address))
    if customer is None:
        return False
    cases = repository.recent_cases(session, customer.id, limit=FRESH_LINK_CASES)
    if not cases:
        return False
    lines = [
        f"- {c.subject} (owned by {c.owner.name}): {case_portal_url(c, settings=settings, now=now)}"
        for c in cases
    ]
    body = (
        f"Hello {customer.name},\n\n"
        "You asked for a fresh link to your case. Here are your most recent ones:\n\n"
        + "\n".join(lines)
        + f"\n\nEach link works for {settings.portal_link_days} days. If you did not ask for this, "
        "you can ignore this e-mail: nobody can use the links without access to your mailbox."
    )
    # Sent even to a do-not-contact customer: they asked for it themselves, just now, and it goes
    # only to the address they typed. The key folds double clicks within a second into one mail.
    enqueue(
        session,
        key=f"fresh-link:{customer.id}:{address}:{now:%Y%m%dT%H%M%S}",
        channel=Channel.email,
        recipient=address,
        kind="portal_link",
        subject="Your fresh link to your case",
        body=body,
        now=now,
        settings=settings,
        case_id=cases[0].id,
        customer_id=customer.id,
    )
    for case in cases:
        timeline.record(
            session,
            case_id=case.id,
            kind="portal_link_sent",
            at=now,
            visibility=Visibility.internal,
            text=f"The customer asked for a fresh link; it was sent to {address}.",
            customer=customer,
            data={"recipient": address},
        )
    session.flush()
    return True
