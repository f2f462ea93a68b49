"""Every query of the staff domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session, make_transient_to_detached, selectinload

from ownwell.db import ShortCache, short_cache
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.staff.models import ApiToken, Department, Role, Staff, staff_departments


def get_department(session: Session, department_id: str, *, field: str | None = None) -> Department:
    department = session.get(Department, department_id) if looks_like_id("dep", department_id) else None
    if department is None:
        raise NotFound(f"no department with id {department_id!r}", field=field)
    return department


def department_by_name_key(session: Session, name_key: str) -> Department | None:
    return session.scalars(select(Department).where(Department.name_key == name_key)).one_or_none()


def list_departments(session: Session, *, limit: int, cursor: str | None) -> Sequence[Department]:
    return session.scalars(paginate_desc(select(Department), Department.id, limit=limit, cursor=cursor)).all()


def get_staff(session: Session, staff_id: str, *, field: str | None = None) -> Staff:
    staff = None
    if looks_like_id("stf", staff_id):
        staff = session.scalars(
            select(Staff).where(Staff.id == staff_id).options(selectinload(Staff.departments))
        ).one_or_none()
    if staff is None:
        raise NotFound(f"no staff member with id {staff_id!r}", field=field)
    return staff


def staff_by_email(session: Session, email: str) -> Staff | None:
    return session.scalars(
        select(Staff).where(Staff.email == email).options(selectinload(Staff.departments))
    ).one_or_none()


def list_staff(session: Session, *, limit: int, cursor: str | None) -> Sequence[Staff]:
    stmt = select(Staff).options(selectinload(Staff.departments))
    return session.scalars(paginate_desc(stmt, Staff.id, limit=limit, cursor=cursor)).all()


def token_recently_seen(cache: ShortCache, token_hash: str) -> bool:
    return cache.get(("token", token_hash)) is not None


def staff_for_token(session: Session, token_hash: str) -> Staff | None:
    """The staff member behind an API token. Every API request asks, so the answer is kept
    briefly (db.ShortCache): a revoked token or a changed role counts within seconds."""
    cache = short_cache(session)
    columns = cache.get(("token", token_hash))
    if columns is not None:
        snapshot = Staff(**columns)
        make_transient_to_detached(snapshot)
        return session.merge(snapshot, load=False)
    staff = session.scalars(
        select(Staff)
        .join(ApiToken, ApiToken.staff_id == Staff.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if staff is not None:
        # Column values, not the instance: this session may still change its own copy.
        cache.put(("token", token_hash), {c.key: getattr(staff, c.key) for c in _STAFF_COLUMNS})
    return staff


# Who the caller is and what they may do; counters that change with every case (and sign-in
# bookkeeping) are left out, so they stay unloaded and are read fresh when someone asks.
_STAFF_COLUMNS = tuple(
    c
    for c in Staff.__mapper__.column_attrs
    if c.key not in ("open_case_count", "failed_logins", "locked_until")
)


def claim_least_loaded(
    session: Session, *, department_id: str | None = None, roles: Sequence[Role] = ()
) -> Staff | None:
    """Routing's pick and its counter in one statement: the on-duty member of the department
    (or holder of one of the roles) with the fewest open cases gets one more, and is returned.

    Members whose row another transaction is counting right now are skipped (SKIP LOCKED on
    PostgreSQL; SQLite has no concurrent writers), so concurrent cases spread over the team
    instead of queueing on one row; if every candidate is busy, the second try waits."""
    candidates = select(Staff.id).where(Staff.on_duty.is_(True))
    if department_id is not None:
        candidates = candidates.join(staff_departments, staff_departments.c.staff_id == Staff.id).where(
            staff_departments.c.department_id == department_id
        )
    if roles:
        candidates = candidates.where(Staff.role.in_(roles))
    candidates = candidates.order_by(Staff.open_case_count, Staff.id).limit(1)
    for pick in (candidates.with_for_update(skip_locked=True, of=Staff), candidates):
        claimed = session.scalars(
            update(Staff)
            .where(Staff.id == pick.scalar_subquery())
            .values(open_case_count=Staff.open_case_count + 1)
            .returning(Staff),
            execution_options={"synchronize_session": False},
        ).one_or_none()
        if claimed is not None:
            return claimed
    return None


def supervisors_of(session: Session, department_ids: Sequence[str]) -> Sequence[Staff]:
    return session.scalars(
        select(Staff)
        .join(staff_departments, staff_departments.c.staff_id == Staff.id)
        .where(
            staff_departments.c.department_id.in_(department_ids),
            Staff.role.in_((Role.supervisor, Role.admin)),
        )
        .order_by(Staff.id)
        .distinct()
    ).all()
