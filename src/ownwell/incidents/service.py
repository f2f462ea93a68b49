"""The only writers of incidents. Each call is one state change in the caller's transaction;
they flush, never commit. Affected customers are written in bulk, and every message is fanned
out by the worker (fanout.py), so a request naming 100,000 customers still answers at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ownwell.cases import lifecycle
from ownwell.cases import repository as case_repository
from ownwell.cases import rules as case_rules
from ownwell.cases.models import Case, CaseChannel, CaseKind, CaseStatus, Visibility
from ownwell.cases.service import add_message, open_case
from ownwell.config import Settings
from ownwell.customers import repository as customer_repository
from ownwell.errors import InvalidInput, NotFound
from ownwell.incidents import repository, rules
from ownwell.incidents.models import Incident, IncidentCase, IncidentCustomer, IncidentUpdate
from ownwell.incidents.schemas import IncidentIn, ReplyIn, UpdateIn
from ownwell.kit.ids import looks_like_id, new_id
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Staff


def _first_unknown(session: Session, customer_ids: list[str]) -> InvalidInput | None:
    known = repository.known_customer_ids(session, list(dict.fromkeys(customer_ids)))
    for index, customer_id in enumerate(customer_ids):
        if customer_id not in known:
            return InvalidInput(f"no customer with id {customer_id!r}", field=f"customer_ids.{index}")
    return None


def _affected_customers(session: Session, data: IncidentIn) -> list[str]:
    """The customers the input names, once each, in input order. Ids given directly are checked
    by the foreign key when they are written (see _add_members); orders are looked up here,
    and a 422 names the first unknown one by its index."""
    if data.customer_ids is not None:
        if not all(looks_like_id("cus", c) for c in data.customer_ids):
            unknown = _first_unknown(session, data.customer_ids)
            assert unknown is not None  # a malformed id names no customer
            raise unknown
        return list(dict.fromkeys(data.customer_ids))
    assert data.order_external_ids is not None
    owners = repository.customers_of_orders(session, list(dict.fromkeys(data.order_external_ids)))
    for index, external_id in enumerate(data.order_external_ids):
        if external_id not in owners:
            raise InvalidInput(
                f"no order with external id {external_id!r}", field=f"order_external_ids.{index}"
            )
    return list(dict.fromkeys(owners[e] for e in data.order_external_ids))


def _add_members(
    session: Session, *, incident: Incident, customer_ids: list[str], concierges: list[str], data: IncidentIn
) -> None:
    """Every affected customer in a group with a concierge, in one bulk insert. Checking 100,000
    ids first would read them all once more: the foreign key checks them as they are written,
    and only when it refuses one do we look for which."""
    rows = [
        {"customer_id": c, "group_no": g, "concierge_id": s}
        for c, g, s in rules.groups(customer_ids, concierges, incident.group_size)
    ]
    table = IncidentCustomer.__table__
    try:
        with session.begin_nested():
            repository.bulk_insert(session, table, rows, same={"incident_id": incident.id})  # type: ignore[arg-type]
    except IntegrityError as exc:
        if data.customer_ids is not None and (unknown := _first_unknown(session, data.customer_ids)):
            raise unknown from exc
        raise


def _promise(promised: datetime | None, *, now: datetime) -> datetime:
    if promised is not None and promised <= now:
        raise InvalidInput("the next update must be promised for a time still ahead", field="next_update_at")
    return rules.next_update_due(now, promised)


def _add_update(
    session: Session, *, incident: Incident, message: str, promised: datetime, actor: Staff, now: datetime
) -> IncidentUpdate:
    # The caller holds the incident's row, so two updates never take the same number.
    incident.update_count += 1
    incident.next_update_due = promised
    incident.updated_at = now
    update = IncidentUpdate(
        id=new_id("inu"),
        incident_id=incident.id,
        number=incident.update_count,
        message=message.strip(),
        next_update_due=promised,
        author_id=actor.id,
        created_at=now,
        not_contacted=0,
    )
    session.add(update)
    session.flush()
    return update


def create_incident(
    session: Session, *, data: IncidentIn, actor: Staff, now: datetime, settings: Settings
) -> Incident:
    """Record the incident, every affected customer in a group with a named concierge (the
    causing department's on-duty staff in turn, else the owner), and the first message."""
    try:
        department = staff_repository.get_department(session, data.caused_by_department_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="caused_by_department_id") from exc
    try:
        owner = staff_repository.get_staff(session, data.owner_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="owner_id") from exc
    customer_ids = _affected_customers(session, data)
    promised = _promise(data.next_update_at, now=now)
    concierges = [s.id for s in repository.concierge_pool(session, department.id)] or [owner.id]
    incident = Incident(
        id=new_id("inc"),
        title=data.title.strip(),
        caused_by_department_id=department.id,
        owner_id=owner.id,
        group_size=data.group_size,
        affected_count=len(customer_ids),
        update_count=0,
        next_update_due=promised,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    incident.owner = owner
    session.add(incident)
    session.flush()
    _add_members(session, incident=incident, customer_ids=customer_ids, concierges=concierges, data=data)
    _add_update(session, incident=incident, message=data.message, promised=promised, actor=actor, now=now)
    return incident


def post_update(
    session: Session, *, incident: Incident, data: UpdateIn, actor: Staff, now: datetime
) -> IncidentUpdate:
    """The next message to every affected customer; the caller holds the incident's row lock."""
    promised = _promise(data.next_update_at, now=now)
    return _add_update(
        session, incident=incident, message=data.message, promised=promised, actor=actor, now=now
    )


def record_reply(
    session: Session, *, incident: Incident, data: ReplyIn, actor: Staff, now: datetime, settings: Settings
) -> Case:
    """A customer's words about the incident land on their one case, owned by their concierge:
    the first reply opens it, later ones are appended (a closed one is reopened first)."""
    # The row lock makes a second reply wait for the first, so both find the same case.
    member = repository.member(session, incident.id, data.customer_id, for_update=True)
    if member is None:
        raise InvalidInput("this customer is not affected by this incident", field="customer_id")
    customer = customer_repository.get(session, member.customer_id)
    case_id = repository.case_of(session, incident.id, customer.id)
    if case_id is None:
        case = open_case(
            session,
            customer=customer,
            subject=incident.title,
            body=data.body,
            kind=CaseKind.complaint,
            channel=CaseChannel.api,
            department_id=incident.caused_by_department_id,
            order_id=None,
            actor=actor,
            now=now,
            settings=settings,
            incident_id=incident.id,
            owner=staff_repository.get_staff(session, member.concierge_id),
        )
        session.add(
            IncidentCase(incident_id=incident.id, customer_id=customer.id, case_id=case.id, created_at=now)
        )
        session.flush()
        return case
    case = case_repository.get(session, case_id, for_update=True)
    if not case_rules.is_active(CaseStatus(case.status)):
        lifecycle.reopen_case(
            session,
            case=case,
            reason=f'You wrote to us again about "{incident.title}".',
            actor=None,
            now=now,
            settings=settings,
            customer_actor=customer,
        )
    add_message(
        session,
        case=case,
        body=data.body,
        visibility=Visibility.customer,
        actor=actor,
        now=now,
        settings=settings,
        from_customer=True,
    )
    return case
