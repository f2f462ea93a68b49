"""Read queries behind the pickers of staff forms (choose customers for an incident...). Small,
bounded answers: a picker shows a handful of rows, never a table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ownwell.customers.models import Customer, CustomerIdentifier
from ownwell.staff.models import Department, Staff

PICK_LIMIT = 20


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def find_customers(
    session: Session, query: str, *, limit: int = PICK_LIMIT
) -> Sequence[tuple[str, str, str | None]]:
    """(id, name, first e-mail) of customers whose name contains `query` or who have an
    identifier (e-mail, phone, external id) equal to it; by name."""
    text = " ".join(query.split())
    if not text:
        return []
    by_identifier = select(CustomerIdentifier.customer_id).where(
        func.lower(CustomerIdentifier.value) == text.casefold()
    )
    first_email = (
        select(CustomerIdentifier.value)
        .where(CustomerIdentifier.customer_id == Customer.id, CustomerIdentifier.kind == "email")
        .order_by(CustomerIdentifier.id)
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Customer.id, Customer.name, first_email.label("email"))
        .where(or_(Customer.name.ilike(_like(text), escape="\\"), Customer.id.in_(by_identifier)))
        .order_by(Customer.name, Customer.id)
        .limit(limit)
    ).all()
    return [(r.id, r.name, r.email) for r in rows]


def all_departments(session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.name)).all()


def all_staff(session: Session) -> Sequence[Staff]:
    """For "owner" choices: by name. Organisations running Ownwell have dozens to hundreds."""
    return session.scalars(select(Staff).order_by(Staff.name, Staff.id)).all()


def department_names(session: Session, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(select(Department.id, Department.name).where(Department.id.in_(list(set(ids)))))
    return {r.id: r.name for r in rows}


def customers_by_id(session: Session, ids: Sequence[str]) -> Sequence[tuple[str, str, str | None]]:
    """(id, name, None) of the given customers that exist, by name: picks shown again."""
    rows = session.execute(
        select(Customer.id, Customer.name)
        .where(Customer.id.in_(list(ids)[: PICK_LIMIT * 50]))
        .order_by(Customer.name)
    ).all()
    return [(r.id, r.name, None) for r in rows]
