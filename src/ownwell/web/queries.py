"""Read queries that staff pages need beside the domain repositories: several rows at once for a
list or a panel, so a page costs a fixed number of queries however much it shows."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from ownwell.cases.models import ACTIVE_STATUSES, Case, CaseEvent
from ownwell.commitments.models import Commitment
from ownwell.customers import repository as customer_repository
from ownwell.customers import service as customer_service
from ownwell.customers.models import Customer, CustomerFact, CustomerIdentifier
from ownwell.errors import NotFound
from ownwell.feedback.models import Feedback
from ownwell.kit.ids import looks_like_id
from ownwell.orders.models import Order
from ownwell.staff.models import Department, Staff

SEARCH_LIMIT = 50
# How many of the newest rows a partial match (part of a name, a word) is looked for in first,
# then in a wider look if the first found some; see _newest_like.
RECENT_ROWS = (2_000, 20_000)


def cases_with_customers(session: Session, case_ids: Iterable[str]) -> dict[str, tuple[Case, Customer]]:
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Case, Customer).join(Customer, Customer.id == Case.customer_id).where(Case.id.in_(ids))
    ).all()
    return {case.id: (case, customer) for case, customer in rows}


def events_of(session: Session, case_id: str, *, limit: int = 500) -> Sequence[CaseEvent]:
    """The case's timeline, newest first (the page shows what just happened at the top)."""
    return session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id.desc()).limit(limit)
    ).all()


def case_stamp(session: Session, case: Case) -> str:
    """Changes whenever anything on the case page would: a new event, status, owner, attribution."""
    count, last = session.execute(
        select(func.count(CaseEvent.id), func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id)
    ).one()
    raw = f"{count}|{last}|{case.status}|{case.owner_id}|{case.caused_by_department_id}|{case.updated_at}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class Scores:
    csat: float | None = None
    ces: float | None = None
    answers: int = 0


@dataclass
class CustomerPanel:
    customer: Customer
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    external: dict[str, str] = field(default_factory=dict)
    personal_contact: Staff | None = None
    facts: Sequence[CustomerFact] = ()
    orders: Sequence[Order] = ()
    cases: Sequence[Case] = ()
    scores: Scores = field(default_factory=Scores)


def customer_panel(session: Session, customer_id: str, *, cases_limit: int = 50) -> CustomerPanel:
    customer = session.scalars(
        select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.identifiers))
    ).one_or_none()
    if customer is None:
        raise NotFound(f"no customer with id {customer_id!r}")
    emails, phones, external = customer_service.identifiers_of(customer)
    contact = session.get(Staff, customer.personal_contact_id) if customer.personal_contact_id else None
    orders = session.scalars(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.id.desc()).limit(50)
    ).all()
    cases = session.scalars(
        select(Case)
        .options(joinedload(Case.owner))
        .where(Case.customer_id == customer.id)
        .order_by(Case.id.desc())
        .limit(cases_limit)
    ).all()
    csat, ces, answers = session.execute(
        select(func.avg(Feedback.csat), func.avg(Feedback.ces), func.count(Feedback.id))
        .join(Case, Case.id == Feedback.case_id)
        .where(Case.customer_id == customer.id)
    ).one()
    return CustomerPanel(
        customer=customer,
        emails=emails,
        phones=phones,
        external=external,
        personal_contact=contact,
        facts=customer_repository.facts(session, customer.id),
        orders=orders,
        cases=cases,
        scores=Scores(
            csat=float(csat) if csat is not None else None,
            ces=float(ces) if ces is not None else None,
            answers=int(answers or 0),
        ),
    )


def commitments_of_cases(session: Session, case_ids: Sequence[str]) -> Sequence[Commitment]:
    if not case_ids:
        return []
    return session.scalars(
        select(Commitment).where(Commitment.case_id.in_(case_ids)).order_by(Commitment.due_at)
    ).all()


def people(session: Session) -> Sequence[Staff]:
    """Everyone a case can be handed to, by name."""
    return session.scalars(select(Staff).order_by(Staff.name, Staff.id)).all()


def departments(session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.name)).all()


def department_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = [i for i in dict.fromkeys(ids) if i]
    if not wanted:
        return {}
    rows = session.execute(select(Department.id, Department.name).where(Department.id.in_(wanted)))
    return {department_id: name for department_id, name in rows}


def _like(column, text: str):  # type: ignore[no-untyped-def]
    """lower(column) LIKE '%text%' with one bound pattern, which PostgreSQL's trigram indexes on
    lower(column) (migration 0013) can serve; SQLite scans."""
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return func.lower(column).like(f"%{escaped}%", escape="/")


def _customers_by_identifier(session: Session, text: str) -> list[str]:
    ids = list(customer_repository.owners_of(session, customer_service.lookup_keys(text)).values())
    ids.extend(customer_repository.find_external_any_system(session, text))
    return ids


def _newest(session: Session, stmt, column, limit: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The first `limit` ids of an indexed equality match, newest first."""
    return list(session.scalars(stmt.order_by(column.desc()).limit(limit)))


def _newest_like(  # type: ignore[no-untyped-def]
    session: Session,
    key,
    column,
    text: str,
    limit: int,
    *,
    where=(),
    case_id=None,
    active_only=False,
    older_in_order=True,
) -> list[str]:
    """The newest `limit` matches of `column` containing `text`, newest first by `key`: the keys,
    or with `case_id` that column (the cases of timeline events), of active cases only if
    `active_only`. `where`: more conditions on the same table.

    A common word matches a tenth of a million rows, a rare one a handful, and no one index both
    finds '%word%' and orders by recency. So first the newest rows (RECENT_ROWS), walked
    backwards on the key and left as soon as `limit` match: enough for a common word, and a
    wider look only if the narrow one found some. Then, if still short, the older matches,
    through the trigram index (PostgreSQL, migration 0013): few, or more would have been among
    the newest. They are sorted after being read (materialised, so the planner cannot walk every
    older row backwards instead) — or, with `older_in_order=False`, any `limit` of them are
    taken, which spares reading thousands when a vague name matches thousands of customers."""
    labelled = [key.label("key"), column.label("text"), (key if case_id is None else case_id).label("out")]

    def matching(source):  # type: ignore[no-untyped-def]
        stmt = select(source.c.out)
        if case_id is not None and active_only:
            stmt = stmt.join(Case, Case.id == source.c.out).where(Case.status.in_(ACTIVE_STATUSES))
        return stmt.limit(limit)

    found: list[str] = []
    for rows in RECENT_ROWS:
        newest = select(*labelled).where(*where).order_by(key.desc()).limit(rows).subquery()
        stmt = matching(newest).where(_like(newest.c.text, text)).order_by(newest.c.key.desc())
        found = list(session.scalars(stmt))
        if len(found) >= limit or not found:
            break
    if len(found) >= limit:
        return found
    # The edge of the newest rows; NULL, so nothing older, when they were all the rows. `<=`: a
    # key (a customer of several identifiers) may straddle the edge; duplicates go below.
    edge = select(key).where(*where).order_by(key.desc()).offset(rows - 1).limit(1).scalar_subquery()
    older = select(*labelled).where(*where, key <= edge, _like(column, text))
    if older_in_order:
        cte = older.cte("older").prefix_with("MATERIALIZED")
        found.extend(session.scalars(matching(cte).order_by(cte.c.key.desc())))
    else:
        found.extend(session.scalars(matching(older.subquery())))
    return list(dict.fromkeys(found))[:limit]


def search_customers(session: Session, text: str, *, limit: int = SEARCH_LIMIT) -> Sequence[Customer]:
    """By id, any identifier in any spelling, or part of a name, e-mail, phone or external id.
    Exact matches always; of partial ones the newest, or any `limit` when many old ones match."""
    exact = _customers_by_identifier(session, text)
    if looks_like_id("cus", text):
        exact.append(text)
    value_key = CustomerIdentifier.customer_id
    found = {
        *exact,
        *_newest_like(session, Customer.id, Customer.name, text, limit, older_in_order=False),
        *_newest_like(session, value_key, CustomerIdentifier.value, text, limit, older_in_order=False),
    }
    wanted = sorted(found, reverse=True)[:limit]
    if not wanted:
        return []
    stmt = (
        select(Customer)
        .options(selectinload(Customer.identifiers))
        .where(Customer.id.in_(wanted))
        .order_by(Customer.id.desc())
    )
    return session.scalars(stmt).all()


def _matching_case_ids(
    session: Session, text: str, customer_ids: Sequence[str], *, active_only: bool, limit: int
) -> set[str]:
    """Ids of cases that match one way or another: at least the newest `limit` of each way."""

    active_cases = [Case.status.in_(ACTIVE_STATUSES)] if active_only else []
    found: set[str] = set()
    if looks_like_id("cas", text):
        found.add(text)
    # Exact look-ups first, each an indexed equality: the order number (lower(external_id) is
    # indexed on PostgreSQL), then the customers already found.
    orders = select(Order.id).where(func.lower(Order.external_id) == text.lower())
    by_order = select(Case.id).where(Case.order_id.in_(orders), *active_cases)
    found.update(_newest(session, by_order, Case.id, limit))
    if customer_ids:
        by_customer = select(Case.id).where(Case.customer_id.in_(customer_ids), *active_cases)
        found.update(_newest(session, by_customer, Case.id, limit))
    found.update(_newest_like(session, Case.id, Case.subject, text, limit, where=active_cases))
    # Words anywhere on the timeline: the cases of the newest matching events. A case has
    # several events, so ask for more than `limit` to still have about `limit` cases.
    found.update(
        _newest_like(
            session,
            CaseEvent.id,
            CaseEvent.text,
            text,
            limit * 2,
            case_id=CaseEvent.case_id,
            active_only=active_only,
        )
    )
    return found


def search_cases(
    session: Session,
    text: str,
    *,
    active_only: bool,
    limit: int = SEARCH_LIMIT,
    customers: Sequence[Customer] | None = None,
) -> Sequence[tuple[Case, Customer]]:
    """By case id, order number, the customer (identifier or name) or words in the subject or
    anywhere on the timeline; newest case first. `customers`: search_customers' answer for the
    same text, when the caller already has it."""
    stmt = (
        select(Case, Customer).join(Customer, Customer.id == Case.customer_id).options(joinedload(Case.owner))
    )
    if text:
        if customers is None:
            customers = search_customers(session, text, limit=200)
        ids = _matching_case_ids(
            session, text, [c.id for c in customers], active_only=active_only, limit=limit
        )
        if not ids:
            return []
        stmt = stmt.where(Case.id.in_(sorted(ids)))
    if active_only:
        stmt = stmt.where(Case.status.in_(ACTIVE_STATUSES))
    return [
        (case, customer) for case, customer in session.execute(stmt.order_by(Case.id.desc()).limit(limit))
    ]
