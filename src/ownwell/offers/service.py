"""The only writers of offers (P8): propose within authority or for approval, approve, reject.
Each writes its timeline events and tells the customer in the caller's transaction; they flush,
never commit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from ownwell.cases import repository as case_repository
from ownwell.cases import rules as case_rules
from ownwell.cases import timeline
from ownwell.cases.models import Case, CaseStatus, Visibility
from ownwell.cases.service import cadence_for, case_portal_url, tell_customer
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.notifications.outbox import enqueue_to_staff
from ownwell.notifications.render import local_time
from ownwell.offers import messages, policies, repository, rules
from ownwell.offers.models import Offer, OfferStatus, OfferType
from ownwell.staff.models import Staff


def _facts(offer: Offer) -> dict[str, object]:
    return {
        "offer_id": offer.id,
        "type": offer.type,
        "amount": f"{offer.amount:.2f}",
        "currency": offer.currency,
    }


def _updated_customer(session: Session, case: Case, *, now: datetime) -> None:
    # Telling the customer what we decided is a customer-visible update (P5): a new window.
    if case_rules.is_active(CaseStatus(case.status)):
        case.next_update_due = case_rules.next_update_due(now, cadence_for(session, case.kind))
        if case.first_response_at is None:
            case.first_response_at = now
    case.updated_at = now


def _apply(
    session: Session,
    *,
    offer: Offer,
    case: Case,
    actor: Staff,
    now: datetime,
    settings: Settings,
    fresh: bool,
) -> None:
    """The offer stands: the customer hears what we are giving them, from their case owner."""
    offer_type = OfferType(offer.type)
    timeline.record(
        session,
        case_id=case.id,
        kind="offer_applied",
        at=now,
        visibility=Visibility.customer,
        text=messages.applied_line(offer_type, offer.amount, offer.currency),
        staff=actor,
        data=_facts(offer),
    )
    _updated_customer(session, case, now=now)
    customer = customer_repository.get(session, case.customer_id)
    subject, body = messages.applied(
        customer_name=customer.name,
        owner_name=case.owner.name,
        subject=case.subject,
        offer_type=offer_type,
        amount=offer.amount,
        currency=offer.currency,
        portal_url=case_portal_url(case, settings=settings, now=now),
    )
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"offer-applied:{offer.id}",
        kind="offer_applied",
        subject=subject,
        body=body,
        now=now,
        settings=settings,
        fresh=fresh,
    )


def _in_org_currency(amount: Decimal, currency: str, *, settings: Settings) -> Decimal:
    value = rules.in_org_currency(amount, currency, org_currency=settings.currency, rates=settings.rates())
    if value is None:
        raise InvalidInput(
            f"offers are made in {settings.currency}; no rate for {currency} is configured "
            "(OWNWELL_CURRENCY_RATES)",
            field="currency",
        )
    return value


def _counted_total(session: Session, *, case: Case, offer_type: OfferType, settings: Settings) -> Decimal:
    """This case's approved and pending offers of the type, in the organisation's currency. An
    offer kept from before rates were required and with no rate now counts at face value."""
    rates = settings.rates()
    total = Decimal(0)
    for amount, currency in repository.counted_amounts(session, case_id=case.id, offer_type=offer_type):
        value = rules.in_org_currency(amount, currency, org_currency=settings.currency, rates=rates)
        total += amount if value is None else value
    return total


def propose(
    session: Session,
    *,
    case: Case,
    offer_type: OfferType,
    amount: Decimal,
    currency: str,
    note: str,
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> Offer:
    """Within the actor's own authority the offer is applied at once; above it, it waits for a
    supervisor of the case's department, due within the approval SLA."""
    if not case_rules.is_active(CaseStatus(case.status)):
        raise Conflict(
            f"this case is {case.status}; reopen it before making an offer",
            code="case_not_active",
        )
    value = _in_org_currency(amount, currency, settings=settings)
    total = _counted_total(session, case=case, offer_type=offer_type, settings=settings) + value
    own = rules.within_authority(actor, offer_type, total)
    offer = Offer(
        id=new_id("off"),
        case_id=case.id,
        type=offer_type,
        amount=amount,
        currency=currency,
        note=note.strip(),
        status=OfferStatus.approved if own else OfferStatus.pending_approval,
        proposed_by_id=actor.id,
        decided_by_id=actor.id if own else None,
        decided_at=now if own else None,
        approval_due_at=None if own else rules.approval_due(now, settings.approval_sla_minutes),
        created_at=now,
        deciding_department_ids=rules.pack_departments(repository.deciding_department_ids(session, case)),
    )
    offer.proposed_by = actor
    offer.decided_by = actor if own else None
    session.add(offer)
    what = rules.describe(offer_type, amount, currency)
    limit = rules.authority_limit(actor, offer_type)
    timeline.record(
        session,
        case_id=case.id,
        kind="offer_proposed",
        at=now,
        visibility=Visibility.internal,
        text=(
            f"{actor.name} offered {what}, within their authority of {rules.money(limit, settings.currency)}."
            if own
            else f"{actor.name} proposed {what}, above their authority of "
            f"{rules.money(limit, settings.currency)} (counting this case's earlier offers of the kind, "
            f"{rules.money(total, settings.currency)} in all): waiting for a supervisor's approval. "
            f"{offer.note}"
        ),
        staff=actor,
        data={**_facts(offer), "note": offer.note, "old": None, "new": offer.status},
    )
    if own:
        _apply(session, offer=offer, case=case, actor=actor, now=now, settings=settings, fresh=True)
    else:
        case.updated_at = now
    session.flush()
    return offer


def _decide(offer: Offer, *, status: OfferStatus, note: str | None, actor: Staff, now: datetime) -> None:
    if offer.status != OfferStatus.pending_approval:
        raise Conflict(f"this offer is already {offer.status}", code="already_decided")
    offer.status = status
    offer.decided_by_id = actor.id
    offer.decided_by = actor
    offer.decided_at = now
    offer.decision_note = note.strip() if note and note.strip() else None


def _tell_colleagues(
    session: Session, *, offer: Offer, case: Case, now: datetime, settings: Settings
) -> None:
    """The proposer and the owner hear the decision and its reason; the owner speaks to the
    customer next, so they must know why before the customer writes back."""
    decider = offer.decided_by
    assert decider is not None
    what = rules.describe(OfferType(offer.type), offer.amount, offer.currency)
    verb = "approved" if offer.status == OfferStatus.approved else "rejected"
    reason = f"\n\nTheir note: {offer.decision_note}" if offer.decision_note else ""
    told = (
        " The customer has been told."
        if verb == "approved"
        else (
            " The customer has been told, kindly and without the reason; please follow up with what we"
            " can do instead."
        )
    )
    people = {p.id: p for p in (offer.proposed_by, case.owner) if p.id != decider.id}
    for person in people.values():
        enqueue_to_staff(
            session,
            staff_id=person.id,
            email=person.email,
            key=f"offer-decided:{offer.id}:{person.id}",
            kind="offer_decided",
            subject=f"{decider.name} {verb} {what}: {case.subject}",
            body=(
                f"{person.name}, {decider.name} {verb} {what} proposed by {offer.proposed_by.name} "
                f"on {case.subject!r}.{told}{reason}\n\n{settings.base_url}/app/cases/{case.id}"
            ),
            now=now,
            settings=settings,
            case_id=case.id,
        )


def approve(
    session: Session,
    *,
    offer: Offer,
    case: Case,
    note: str | None,
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> Offer:
    _decide(offer, status=OfferStatus.approved, note=note, actor=actor, now=now)
    what = rules.describe(OfferType(offer.type), offer.amount, offer.currency)
    timeline.record(
        session,
        case_id=case.id,
        kind="offer_approved",
        at=now,
        visibility=Visibility.internal,
        text=f"{actor.name} approved {what} proposed by {offer.proposed_by.name}."
        + (f" {offer.decision_note}" if offer.decision_note else ""),
        staff=actor,
        data={
            **_facts(offer),
            "note": offer.decision_note,
            "proposed_by": timeline.person(offer.proposed_by),
            "old": OfferStatus.pending_approval,
            "new": OfferStatus.approved,
        },
    )
    _apply(session, offer=offer, case=case, actor=actor, now=now, settings=settings, fresh=False)
    _tell_colleagues(session, offer=offer, case=case, now=now, settings=settings)
    session.flush()
    return offer


def reject(
    session: Session,
    *,
    offer: Offer,
    case: Case,
    note: str,
    actor: Staff,
    now: datetime,
    settings: Settings,
) -> Offer:
    """The supervisor's reason stays internal; the owner tells the customer the decision only."""
    _decide(offer, status=OfferStatus.rejected, note=note, actor=actor, now=now)
    offer_type = OfferType(offer.type)
    what = rules.describe(offer_type, offer.amount, offer.currency)
    timeline.record(
        session,
        case_id=case.id,
        kind="offer_rejected",
        at=now,
        visibility=Visibility.internal,
        text=f"{actor.name} rejected {what} proposed by {offer.proposed_by.name}: {offer.decision_note}",
        staff=actor,
        data={
            **_facts(offer),
            "note": offer.decision_note,
            "proposed_by": timeline.person(offer.proposed_by),
            "old": OfferStatus.pending_approval,
            "new": OfferStatus.rejected,
        },
    )
    # Said by the owner, who stays the customer's one contact whoever decided.
    timeline.record(
        session,
        case_id=case.id,
        kind="offer_declined",
        at=now,
        visibility=Visibility.customer,
        text=messages.declined_line(offer_type, offer.amount, offer.currency),
        staff=case.owner,
        data=_facts(offer),
    )
    _updated_customer(session, case, now=now)
    customer = customer_repository.get(session, case.customer_id)
    subject, body = messages.declined(
        customer_name=customer.name,
        owner_name=case.owner.name,
        subject=case.subject,
        offer_type=offer_type,
        amount=offer.amount,
        currency=offer.currency,
        next_update=local_time(case.next_update_due, customer.timezone) if case.next_update_due else None,
        portal_url=case_portal_url(case, settings=settings, now=now),
    )
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"offer-declined:{offer.id}",
        kind="offer_declined",
        subject=subject,
        body=body,
        now=now,
        settings=settings,
    )
    _tell_colleagues(session, offer=offer, case=case, now=now, settings=settings)
    session.flush()
    return offer


def lock_for_decision(
    session: Session, *, offer_id: str, actor: Staff, case: Case | None = None
) -> tuple[Offer, Case]:
    """The offer and its case, locked in the order every change to a case takes (the case first,
    then the offer) so two supervisors deciding from different pages never deadlock; refuses
    anyone who may not decide it. With `case` given (already locked), the offer must be on it."""
    offer = repository.get(session, offer_id)
    if case is None:
        case = case_repository.get(session, offer.case_id, for_update=True)
    elif offer.case_id != case.id:
        raise NotFound(f"no offer {offer_id!r} on this case")
    offer = repository.get(session, offer_id, for_update=True)
    policies.require_can_decide(
        actor,
        offer,
        actor_department_ids=repository.department_ids_of(session, actor.id),
        deciding_department_ids=repository.offer_department_ids(offer),
    )
    return offer, case
