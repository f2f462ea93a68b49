"""Every query of the staff domain."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Integer, Select, bindparam, literal_column, select, text, union_all, update
from sqlalchemy.orm import Session, aliased, make_transient_to_detached, selectinload
from sqlalchemy.orm.util import identity_key

from ownwell.db import (
    ShortCache,
    before_shared_commit,
    commit_follows,
    counts_at_end,
    shared_commands,
    shared_scratch,
    short_cache,
)
from ownwell.errors import NotFound
from ownwell.kit.ids import looks_like_id
from ownwell.kit.pagination import paginate_desc
from ownwell.kit.pipeline import Statement
from ownwell.staff.models import ApiToken, Department, Role, Staff, TokenScope, staff_departments

S = TypeVar("S", bound=Select)  # type: ignore[type-arg]
_Candidates = list[tuple[Staff, int]]  # a routing pick's candidates and their open cases


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


@dataclass(frozen=True)
class TokenHolder:
    """Who an API token speaks for, and with what scope."""

    staff: Staff
    token_id: str
    scope: TokenScope


def token_holder(session: Session, token_hash: str, *, now: datetime) -> TokenHolder | None:
    """The staff member behind an API token that is neither revoked nor expired at `now`, of an
    active staff member. Every API request asks, so the answer is kept briefly (db.ShortCache).

    Expiry is checked on every request, cached or not. A revocation, deactivation or role
    change made through this process empties the cache when it is flushed and again when its
    transaction ends, so the very next request here sees it. One made by another process (a
    second web process, the CLI) empties only that process's cache: this one may still accept
    the token for up to the cache's lifetime (ShortCache's ttl_s, 2 seconds)."""
    cache = short_cache(session)
    cached = cache.get(("token", token_hash))
    if cached is not None:
        columns, token_id, scope, expires_at = cached
        if expires_at is not None and expires_at <= now:
            return None
        return TokenHolder(staff=_cached_staff(session, columns), token_id=token_id, scope=scope)
    row = session.execute(
        select(Staff, ApiToken.id, ApiToken.scope, ApiToken.expires_at)
        .join(ApiToken, ApiToken.staff_id == Staff.id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None), Staff.active.is_(True))
    ).one_or_none()
    if row is None:
        return None
    staff, token_id, scope, expires_at = row
    # Column values, not the instance: this session may still change its own copy.
    columns = {c.key: getattr(staff, c.key) for c in _STAFF_COLUMNS}
    cache.put(("token", token_hash), (columns, token_id, TokenScope(scope), expires_at))
    if expires_at is not None and expires_at <= now:
        return None
    return TokenHolder(staff=staff, token_id=token_id, scope=TokenScope(scope))


def _cached_staff(session: Session, columns: dict[str, object]) -> Staff:
    # Requests sharing a transaction mostly share a token too: the first one's copy serves.
    held = session.identity_map.get(identity_key(Staff, columns["id"]))
    if held is not None:
        return held  # type: ignore[no-any-return]
    snapshot = Staff(**columns)
    make_transient_to_detached(snapshot)
    staff = session.merge(snapshot, load=False)
    # The identity map holds unchanged objects weakly: without this reference the copy is
    # gone when its request ends, and each request sharing the transaction merges anew.
    session.info.setdefault(_ACTORS, []).append(staff)
    return staff  # type: ignore[no-any-return]


_ACTORS = "ownwell_actors"

# Who the caller is and what they may do; the counter that changes with every case is left
# out, so it stays unloaded and is read fresh when someone asks.
_STAFF_COLUMNS = tuple(c for c in Staff.__mapper__.column_attrs if c.key != "open_case_count")


def tokens_of(session: Session, staff_id: str) -> Sequence[ApiToken]:
    """A staff member's tokens, newest first."""
    return session.scalars(
        select(ApiToken).where(ApiToken.staff_id == staff_id).order_by(ApiToken.id.desc())
    ).all()


def list_tokens(session: Session, staff_id: str, *, limit: int, cursor: str | None) -> Sequence[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.staff_id == staff_id)
    return session.scalars(paginate_desc(stmt, ApiToken.id, limit=limit, cursor=cursor)).all()


def get_token(session: Session, *, staff_id: str, token_id: str) -> ApiToken:
    token = None
    if looks_like_id("tok", token_id):
        token = session.scalars(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.staff_id == staff_id)
        ).one_or_none()
    if token is None:
        raise NotFound(f"no API token with id {token_id!r} for this staff member")
    return token


def token_by_id(session: Session, token_id: str) -> ApiToken | None:
    return session.get(ApiToken, token_id) if looks_like_id("tok", token_id) else None


def least_loaded(
    session: Session, *, department_id: str | None = None, roles: Sequence[Role] = ()
) -> Staff | None:
    """Routing's pick without counting the case yet (for a transfer, which counts it itself):
    the on-duty member of the department, or holder of one of the roles, with fewest open cases."""
    params = _Pick.of(department_id, roles).params
    statement = _least_loaded_first(select(Staff), department_id is not None, bool(roles)).limit(1)
    return session.scalars(statement, params).one_or_none()


def claim_least_loaded(
    session: Session, *, department_id: str | None = None, roles: Sequence[Role] = ()
) -> Staff | None:
    """Routing's pick and its counter in one statement: the on-duty member of the department
    (or holder of one of the roles) with the fewest open cases gets one more, and is returned.

    Members whose row another transaction is counting right now are skipped (SKIP LOCKED on
    PostgreSQL; SQLite has no concurrent writers), so concurrent cases spread over the team
    instead of queueing on one row; if every candidate is busy, the second try waits."""
    # Otherwise (alone, or a lone request) the pick holds the row it counted until the commit,
    # skipping rows others hold.
    if counts_at_end(session):
        return _claim_in_shared_transaction(session, _Pick.of(department_id, roles))
    params = _Pick.of(department_id, roles).params
    for skip_locked in (True, False):
        statement = _claim_statement(department_id is not None, bool(roles), skip_locked)
        claimed = session.scalars(statement, params).one_or_none()
        if claimed is not None:
            return claimed
    return None


@functools.cache
def _claim_statement(by_department: bool, by_roles: bool, skip_locked: bool) -> Select[tuple[Staff]]:
    # Built once per shape: building the statement cost more than running it (every new case
    # runs one). A plain UPDATE ... RETURNING whose rows the ORM loads as Staff: the ORM's own
    # bulk UPDATE costs a third more Python for the same statement and the same objects.
    candidates = _least_loaded_first(select(Staff.id), by_department, by_roles).limit(1)
    if skip_locked:
        candidates = candidates.with_for_update(skip_locked=True, of=Staff)
    claim = (
        update(_staff)
        .where(_staff.c.id == candidates.scalar_subquery())
        .values(open_case_count=_staff.c.open_case_count + 1)
        .returning(*_staff.c)
    )
    return select(Staff).from_statement(claim)


def count_open_cases_later(session: Session, staff_id: str, delta: int) -> None:
    """In a shared transaction: add `delta` to the member's open cases just before the commit."""
    pending = shared_scratch(session).setdefault(_PENDING_COUNTS, {})
    if not pending:
        before_shared_commit(session, _write_pending_counts)
    pending[staff_id] = pending.get(staff_id, 0) + delta


@dataclass(frozen=True)
class _Pick:
    """What a routing pick asks for: members of a department and/or holders of some roles."""

    department_id: str | None
    roles: tuple[str, ...]

    @classmethod
    def of(cls, department_id: str | None, roles: Sequence[Role]) -> _Pick:
        return cls(department_id, tuple(str(role) for role in roles))

    @property
    def shape(self) -> tuple[bool, bool]:
        return self.department_id is not None, bool(self.roles)

    @property
    def params(self) -> dict[str, object]:
        params: dict[str, object] = {}
        if self.department_id is not None:
            params["department_id"] = self.department_id
        if self.roles:
            params["roles"] = list(self.roles)
        return params


def expect_claim(session: Session, *, department_id: str | None = None, roles: Sequence[Role] = ()) -> None:
    """In a shared block: a command will ask routing for this pick; its candidates are read
    with the block's first pick, in the same statement."""
    if counts_at_end(session):
        shared_scratch(session).setdefault(_EXPECTED_PICKS, set()).add(_Pick.of(department_id, roles))


def _claim_in_shared_transaction(session: Session, pick: _Pick) -> Staff | None:
    """Routing's pick when many cases share one transaction. Nobody's row is locked for the
    whole transaction (a concurrent one would queue behind it, or deadlock with it): the pick
    reads the counters, adds what this transaction has already given out, and the counters are
    written at the end, in staff-id order (_write_pending_counts). Concurrent transactions may
    pick the same person; the counters stay exact."""
    scratch = shared_scratch(session)
    pending: dict[str, int] = scratch.get(_PENDING_COUNTS, {})
    # Whoever is not among the first len(pending) + 1 cannot beat them: this transaction can
    # have raised at most len(pending) of them (and lowered none, or all must be looked at).
    # One read serves the block's later picks of the same kind while that still holds, so it
    # reads as many more as the block has commands; it reads them for every pick the block's
    # commands said they would make, too, whenever those rows were read.
    raised_only = all(delta >= 0 for delta in pending.values())
    read: dict[_Pick, tuple[int, _Candidates]] = scratch.setdefault(_CANDIDATES, {})
    limit, rows = read.get(pick, (0, []))
    if not raised_only or (len(pending) >= limit and len(rows) >= limit):
        limit = len(pending) + shared_commands(session) if raised_only else 1_000_000
        # The picks the block's other commands said they would make, not read yet, come along;
        # in a set order, so that the statement's few shapes are compiled once each.
        expected = scratch.get(_EXPECTED_PICKS, set())
        picks = sorted({pick} | (expected - read.keys()), key=lambda each: (each.shape, repr(each)))
        read.update({each: (limit, found) for each, found in _read_candidates(session, picks, limit).items()})
        rows = read[pick][1]
    if not rows:
        return None
    staff, _count = min(rows, key=lambda row: (row[1] + pending.get(row[0].id, 0), row[0].id))
    count_open_cases_later(session, staff.id, 1)
    return staff


def _read_candidates(session: Session, picks: list[_Pick], limit: int) -> dict[_Pick, _Candidates]:
    """The first `limit` candidates of each pick, fewest open cases first, in one statement."""
    values: dict[str, object] = {"limit": limit}
    for branch, pick in enumerate(picks):
        values.update({f"{name}_{branch}": value for name, value in pick.params.items()})
    found: dict[_Pick, _Candidates] = {pick: [] for pick in picks}
    statement = _candidates_statement(tuple(pick.shape for pick in picks))
    for staff, count, branch in session.execute(statement, values):
        found[picks[branch]].append((staff, count))
    return found


@functools.cache
def _candidates_statement(shapes: tuple[tuple[bool, bool], ...]) -> Select[tuple[Staff, int, int]]:
    # One branch a pick, each with its own order and limit; `branch` says whose row it is.
    branches = [
        _least_loaded_first(
            select(*_staff.c, literal_column(str(branch), Integer).label("branch")),
            by_department,
            by_roles,
            suffix=f"_{branch}",
        )
        .limit(bindparam("limit"))
        .subquery()
        for branch, (by_department, by_roles) in enumerate(shapes)
    ]
    combined = union_all(*(select(branch) for branch in branches)).subquery()
    staff = aliased(Staff, combined)
    return select(staff, combined.c.open_case_count, combined.c.branch)


def _least_loaded_first(candidates: S, by_department: bool, by_roles: bool, suffix: str = "") -> S:
    """Who may own a routed case, fewest open cases first (ties by id): on duty, in the
    department (`:department_id`) and/or holding one of the roles (`:roles`), the parameters'
    names ending in `suffix`."""
    candidates = candidates.where(Staff.on_duty.is_(True))
    if by_department:
        candidates = candidates.join(staff_departments, staff_departments.c.staff_id == Staff.id).where(
            staff_departments.c.department_id == bindparam("department_id" + suffix)
        )
    if by_roles:
        candidates = candidates.where(Staff.role.in_(bindparam("roles" + suffix, expanding=True)))
    return candidates.order_by(Staff.open_case_count, Staff.id)


def _write_pending_counts(session: Session) -> list[Statement]:
    pending: dict[str, int] = shared_scratch(session).pop(_PENDING_COUNTS, {})
    rows = [{"staff_id": sid, "delta": pending[sid]} for sid in sorted(pending) if pending[sid]]
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        return [(_ADD_OPEN_CASES, rows)]
    # A row held by someone else (a password reset, a deactivation, a transfer) is waited for
    # briefly; past that the shared transaction fails and its cases are redone one by one,
    # which skip locked rows. Order ingest goes on with its next round afterwards, so it
    # restores the usual wait; a commit ends the SET LOCAL anyway.
    restore = [] if commit_follows(session) else [(_USUAL_LOCK_WAIT, [{}])]
    return [(_SHORT_LOCK_WAIT, [{}]), (_ADD_OPEN_CASES, rows), *restore]


_SHORT_LOCK_WAIT = text("SET LOCAL lock_timeout = '200ms'")
_USUAL_LOCK_WAIT = text("SET LOCAL lock_timeout TO DEFAULT")
_PENDING_COUNTS = "open_cases"
_CANDIDATES = "routing_candidates"
_EXPECTED_PICKS = "routing_expected"
_staff = Staff.__table__
_ADD_OPEN_CASES = (
    update(_staff)
    .where(_staff.c.id == bindparam("staff_id"))
    .values(open_case_count=_staff.c.open_case_count + bindparam("delta"))
)


def supervisors_of(session: Session, department_ids: Sequence[str]) -> Sequence[Staff]:
    return session.scalars(
        select(Staff)
        .join(staff_departments, staff_departments.c.staff_id == Staff.id)
        .where(
            staff_departments.c.department_id.in_(department_ids),
            Staff.role.in_((Role.supervisor, Role.admin)),
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
        .distinct()
    ).all()
