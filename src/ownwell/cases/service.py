"""The only writers of cases. Each call is one state change, with its timeline event and any
outbox rows, in the caller's transaction. They flush, never commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from ownwell.audit import service as audit
from ownwell.cases import repository, rules, timeline
from ownwell.cases.models import CadencePolicy, Case, CaseChannel, CaseKind, CaseStatus, Visibility
from ownwell.cases.routing import RoutedBy, claim_owner, expect_owner
from ownwell.cases.schemas import CaseIn, CasePatch
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer
from ownwell.db import insert_new, short_cache
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.notifications import render
from ownwell.notifications.outbox import enqueue_to_customer
from ownwell.portal.links import portal_url
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff
from ownwell.staff.service import adjust_open_cases


def case_portal_url(case: Case, *, settings: Settings, now: datetime) -> str:
    return portal_url(
        settings.base_url,
        settings.resolved_secret_key(),
        customer_id=case.customer_id,
        case_id=case.id,
        now=now,
        days=settings.portal_link_days,
    )


def cadence_for(session: Session, kind: str) -> int:
    return repository.cadence_minutes(session, kind) or rules.DEFAULT_CADENCE_MINUTES[kind]


def _department_id(session: Session, department_id: str | None, field: str) -> str | None:
    if department_id is None:
        return None
    # Departments are never deleted, so one that existed a moment ago still does.
    cache = short_cache(session)
    if cache.get(("department", department_id)) is None:
        try:
            staff_repository.get_department(session, department_id)
        except NotFound as exc:
            raise InvalidInput(exc.message, field=field) from exc
        cache.put(("department", department_id), True)
    return department_id


def tell_customer(
    session: Session,
    *,
    case: Case,
    customer: Customer,
    key: str,
    kind: str,
    subject: str,
    body: str,
    now: datetime,
    settings: Settings,
    fresh: bool = False,
) -> None:
    emails, phones, _ = customer_service.identifiers_of(customer)
    queued = enqueue_to_customer(
        session,
        customer=customer,
        emails=emails,
        phones=phones,
        key=key,
        kind=kind,
        subject=subject,
        body=body,
        now=now,
        settings=settings,
        case_id=case.id,
        fresh=fresh,
    )
    if not queued:
        timeline.record(
            session,
            case_id=case.id,
            kind="message_suppressed",
            at=now,
            visibility=Visibility.internal,
            text=f"Nothing was sent ({kind}): the customer asked not to be contacted.",
            data={"reason": "do_not_contact", "message_kind": kind},
        )


def move_status(session: Session, case: Case, new: CaseStatus, *, now: datetime) -> CaseStatus:
    old = CaseStatus(case.status)
    if old == new:
        return old
    if not rules.can_move(old, new):
        raise Conflict(f"a case that is {old} cannot become {new}", field="status", code="invalid_transition")
    was_active, is_active = rules.is_active(old), rules.is_active(new)
    if was_active != is_active:
        adjust_open_cases(session, case.owner_id, 1 if is_active else -1)
    case.status = new
    case.updated_at = now
    return old


FirstMessage = Callable[[Case, Staff, str], tuple[str, str]]


def expect_case(session: Session, data: CaseIn) -> None:
    """`create_case` will run for this input in a shared transaction: say what it will read."""
    if data.customer_id is None and data.customer is not None:
        customer_service.expect_customer(session, data.customer)
    expect_owner(session, department_id=data.caused_by_department_id)


def create_case(
    session: Session, *, data: CaseIn, actor: Staff | None, now: datetime, settings: Settings
) -> Case:
    """Intake through the API: recognise the customer, then open the case."""
    if data.order_id is not None:  # lazy import: the orders domain builds on cases
        from ownwell.orders.repository import require as require_order

        require_order(session, data.order_id, field="order_id")
    if data.customer_id is not None:
        try:
            customer = customer_repository.get(session, data.customer_id)
        except NotFound as exc:
            raise InvalidInput(exc.message, field="customer_id") from exc
    else:
        assert data.customer is not None
        customer = customer_service.recognise_or_create(
            session,
            data=data.customer,
            now=now,
            default_timezone=settings.timezone,
            prefix="customer.",
        )
    return open_case(
        session,
        customer=customer,
        subject=data.subject,
        body=data.body,
        kind=data.kind,
        channel=data.channel,
        department_id=_department_id(session, data.caused_by_department_id, "caused_by_department_id"),
        order_id=data.order_id,
        actor=actor,
        now=now,
        settings=settings,
    )


def open_case(
    session: Session,
    *,
    customer: Customer,
    subject: str | None,
    body: str,
    kind: CaseKind,
    channel: CaseChannel,
    department_id: str | None,
    order_id: str | None,
    actor: Staff | None,
    now: datetime,
    settings: Settings,
    first_message: FirstMessage | None = None,
    incident_id: str | None = None,
    owner: Staff | None = None,
    unverified_sender: bool = False,
) -> Case:
    """The one writer that creates a case: owner chosen (or given), cadence set, the customer's
    words (or our proactive notice) first on the timeline, and the first message queued.

    `first_message(case, owner, portal_url) -> (subject, body)` replaces the acknowledgement,
    e.g. with a proactive delay notice; `channel=proactive` marks a case we opened ourselves.
    `unverified_sender`: nobody proved to hold the customer's address (the help form, mail the
    receiving server did not vouch for); staff see it until `confirm_sender`."""
    if owner is None:
        owner, routed_by = claim_owner(session, department_id=department_id, customer=customer)
    else:
        routed_by = RoutedBy.assigned
        adjust_open_cases(session, owner.id, 1)
    subject = (subject or "").strip() or rules.subject_from_body(body)
    proactive = channel == CaseChannel.proactive
    case = Case(
        id=new_id("cas"),
        customer_id=customer.id,
        owner_id=owner.id,
        subject=subject,
        kind=kind,
        channel=channel,
        status=CaseStatus.open,
        proactive=proactive,
        caused_by_department_id=department_id,
        order_id=order_id,
        incident_id=incident_id,
        next_update_due=rules.next_update_due(now, cadence_for(session, kind)),
        reopen_count=0,
        unverified_sender=unverified_sender,
        created_at=now,
        updated_at=now,
    )
    case.owner = owner
    session.add(case)
    timeline.append(
        session,
        case_id=case.id,
        kind="case_created",
        at=now,
        visibility=Visibility.customer,
        text=body,
        # The customer's own words come first; only a proactive case is opened by us.
        customer=None if proactive else customer,
        staff=actor if proactive else None,
        data={
            "subject": subject,
            "channel": channel,
            "owner": timeline.person(owner),
            "routed_by": routed_by,
            "created_by": timeline.person(actor) if actor else None,
            # The first cadence window's due time, kept so the update-on-time metric never
            # has to guess it from a cadence policy that may have changed since.
            "update_due": case.next_update_due.isoformat(),  # type: ignore[union-attr]
            **({"unverified_sender": True} if unverified_sender else {}),
        },
    )
    url = case_portal_url(case, settings=settings, now=now)
    if first_message is not None:
        subject_line, message = first_message(case, owner, url)
        kind_of_message = "proactive_notice"
    else:
        subject_line, message = render.acknowledgement(
            customer_name=customer.name,
            owner_name=owner.name,
            subject=subject,
            next_update=case.next_update_due,  # type: ignore[arg-type]
            zone=customer.timezone,
            portal_url=url,
        )
        kind_of_message = "acknowledgement"
    if proactive:
        # Telling the customer first is the first response (P3).
        case.first_response_at = now
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"case-first:{case.id}",
        kind=kind_of_message,
        subject=subject_line,
        body=message,
        now=now,
        settings=settings,
        fresh=True,
    )
    insert_new(session)
    return case


def update_case(session: Session, *, case: Case, patch: CasePatch, actor: Staff, now: datetime) -> Case:
    changes: dict[str, dict[str, object]] = {}
    given = patch.model_fields_set
    if "subject" in given and patch.subject is not None and patch.subject != case.subject:
        changes["subject"] = {"old": case.subject, "new": patch.subject}
        case.subject = patch.subject
    if "kind" in given and patch.kind is not None and patch.kind != case.kind:
        changes["kind"] = {"old": case.kind, "new": patch.kind}
        case.kind = patch.kind
    if "caused_by_department_id" in given:
        new_department = _department_id(session, patch.caused_by_department_id, "caused_by_department_id")
        if new_department != case.caused_by_department_id:
            changes["caused_by_department_id"] = {
                "old": case.caused_by_department_id,
                "new": new_department,
            }
            case.caused_by_department_id = new_department
    for field, change in changes.items():
        timeline.record(
            session,
            case_id=case.id,
            kind=f"{field}_changed" if field != "caused_by_department_id" else "attributed",
            at=now,
            visibility=Visibility.internal,
            staff=actor,
            data=change,
        )
    if changes:
        case.updated_at = now
    session.flush()
    return case


def add_message(
    session: Session,
    *,
    case: Case,
    body: str,
    visibility: Visibility,
    actor: Staff | None,
    now: datetime,
    settings: Settings,
    from_customer: bool = False,
    wait_for_customer: bool = False,
    unverified_sender: bool = False,
) -> None:
    """`unverified_sender` marks a customer's message whose sender nobody vouched for."""
    customer = customer_repository.get(session, case.customer_id)
    if from_customer:
        data: dict[str, object] = {"relayed_by": timeline.person(actor)} if actor else {}
        if unverified_sender:
            data["unverified_sender"] = True
        timeline.record(
            session,
            case_id=case.id,
            kind="message_in",
            at=now,
            visibility=Visibility.customer,
            text=body,
            customer=customer,
            # A gateway relaying the customer's words names the staff member who relayed them.
            data=data,
        )
        if case.status == CaseStatus.waiting_on_customer:
            move_status(session, case, CaseStatus.open, now=now)
        case.updated_at = now
        session.flush()
        return
    if actor is None:
        raise ValueError("only a customer's own message may come without a staff member")
    if visibility == Visibility.internal:
        timeline.record(
            session,
            case_id=case.id,
            kind="note",
            at=now,
            visibility=visibility,
            text=body,
            staff=actor,
        )
        case.updated_at = now
        session.flush()
        return
    if not rules.is_active(CaseStatus(case.status)):
        raise Conflict(
            f"this case is {case.status}; reopen it before writing to the customer",
            field="visibility",
            code="case_not_active",
        )
    # P5: a customer-visible update starts a new cadence window; an internal note does not.
    case.next_update_due = rules.next_update_due(now, cadence_for(session, case.kind))
    event = timeline.record(
        session,
        case_id=case.id,
        kind="message_out",
        at=now,
        visibility=Visibility.customer,
        text=body,
        staff=actor,
        data={"update_due": case.next_update_due.isoformat()},
    )
    if case.first_response_at is None:
        case.first_response_at = now
    if wait_for_customer:
        move_status(session, case, CaseStatus.waiting_on_customer, now=now)
    case.updated_at = now
    url = case_portal_url(case, settings=settings, now=now)
    tell_customer(
        session,
        case=case,
        customer=customer,
        key=f"message:{event.id}",
        kind="reply",
        subject=f"Re: {case.subject}",
        body=render.staff_reply(
            customer_name=customer.name, owner_name=actor.name, text=body, portal_url=url
        ),
        now=now,
        settings=settings,
    )
    session.flush()


def confirm_sender(session: Session, *, case: Case, customer: Customer, via: str, now: datetime) -> None:
    """The customer answered from their own address (`via`: "e-mail" or "case page", whose link
    only ever went to that address): the case is no longer marked as from an unverified sender."""
    if not case.unverified_sender:
        return
    case.unverified_sender = False
    timeline.record(
        session,
        case_id=case.id,
        kind="sender_verified",
        at=now,
        visibility=Visibility.internal,
        text=f"The customer answered from their address ({via}): the sender is verified.",
        customer=customer,
        data={"via": via},
    )
    case.updated_at = now
    session.flush()


def set_cadence(session: Session, *, kind: str, minutes: int, actor: Staff, now: datetime) -> None:
    """Applies to cadence windows that start from now on; open windows keep their due time."""
    policy = session.get(CadencePolicy, kind)
    before = cadence_for(session, kind)
    if policy is None:
        session.add(CadencePolicy(kind=kind, update_every_minutes=minutes))
    else:
        policy.update_every_minutes = minutes
    session.flush()
    if before != minutes:
        audit.record(
            session,
            action="cadence_policy.changed",
            target_type="cadence_policy",
            target_id=kind,
            actor_id=actor.id,
            actor_label=actor.name,
            now=now,
            before={"update_every_minutes": before},
            after={"update_every_minutes": minutes},
        )
