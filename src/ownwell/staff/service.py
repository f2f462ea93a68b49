"""The only writers of the staff domain. They flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from ownwell.customers.rules import normalise_email
from ownwell.db import counts_at_end
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.staff import repository
from ownwell.staff.models import ApiToken, Department, Role, Staff
from ownwell.staff.schemas import PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Authority, StaffIn, StaffPatch
from ownwell.staff.security import hash_password, hash_token, new_token, verify_password

# Web sign-in: this many wrong passwords in a row lock the account for LOCKOUT.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def department_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def create_department(session: Session, *, name: str, now: datetime) -> Department:
    clean = " ".join(name.split())
    if repository.department_by_name_key(session, department_key(clean)):
        raise Conflict(f"a department named {clean!r} exists already", field="name")
    department = Department(id=new_id("dep"), name=clean, name_key=department_key(clean), created_at=now)
    session.add(department)
    session.flush()
    return department


def ensure_department(session: Session, *, name: str, now: datetime) -> Department:
    existing = repository.department_by_name_key(session, department_key(name))
    return existing or create_department(session, name=name, now=now)


def _departments(session: Session, ids: Sequence[str]) -> list[Department]:
    found = []
    for index, department_id in enumerate(dict.fromkeys(ids)):
        try:
            found.append(repository.get_department(session, department_id))
        except NotFound as exc:
            raise InvalidInput(exc.message, field=f"department_ids.{index}") from exc
    return found


def _apply_authority(staff: Staff, authority: Authority) -> None:
    staff.authority_refund = authority.refund
    staff.authority_credit = authority.credit
    staff.authority_replacement = authority.replacement
    staff.authority_goodwill = authority.goodwill


def create_staff(session: Session, *, data: StaffIn, now: datetime) -> Staff:
    if repository.staff_by_email(session, data.email):
        raise Conflict(f"{data.email} is already a staff member", field="email")
    staff = Staff(
        id=new_id("stf"),
        name=data.name.strip(),
        email=data.email,
        role=data.role,
        on_duty=data.on_duty,
        open_case_count=0,
        password_hash=hash_password(data.password) if data.password else None,
        created_at=now,
    )
    _apply_authority(staff, data.authority)
    staff.departments = _departments(session, data.department_ids)
    session.add(staff)
    session.flush()
    return staff


def update_staff(session: Session, *, staff: Staff, patch: StaffPatch) -> Staff:
    if patch.name is not None:
        staff.name = patch.name.strip()
    if patch.role is not None:
        staff.role = patch.role
    if patch.on_duty is not None:
        staff.on_duty = patch.on_duty
    if patch.authority is not None:
        _apply_authority(staff, patch.authority)
    if patch.department_ids is not None:
        staff.departments = _departments(session, patch.department_ids)
    session.flush()
    return staff


def set_password(session: Session, *, staff: Staff, password: str) -> None:
    staff.password_hash = hash_password(password)
    session.flush()


def create_token(session: Session, *, staff: Staff, now: datetime) -> str:
    """A new API token; only its hash is kept, so this is the one time it can be seen."""
    token = new_token()
    session.add(ApiToken(id=new_id("tok"), staff_id=staff.id, token_hash=hash_token(token), created_at=now))
    session.flush()
    return token


def adjust_open_cases(session: Session, staff_id: str, delta: int) -> None:
    """Keep the routing counter in step; an atomic UPDATE so concurrent requests add up."""
    if counts_at_end(session):
        repository.count_open_cases_later(session, staff_id, delta)
        return
    session.execute(
        update(Staff)
        .where(Staff.id == staff_id)
        .values(open_case_count=Staff.open_case_count + delta)
        .execution_options(synchronize_session=False)
    )


def is_manager(staff: Staff) -> bool:
    return staff.role in (Role.supervisor, Role.admin)


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt. Failures are flushed, not raised, so that the caller
    commits the failure counter instead of rolling it back with the error."""

    staff: Staff | None
    locked_until: datetime | None = None


_dummy_hash: list[str] = []


def _burn_time(password: str) -> None:
    # An unknown e-mail costs the same argon2 work as a wrong password: no account probing.
    if not _dummy_hash:
        _dummy_hash.append(hash_password("not-a-password-of-anyone"))
    verify_password(_dummy_hash[0], password)


def sign_in(session: Session, *, email: str, password: str, now: datetime) -> SignIn:
    try:
        key = normalise_email(email.strip())
    except ValueError:
        key = email.strip().casefold()
    staff = repository.staff_by_email(session, key) if key else None
    if staff is None:
        _burn_time(password)
        return SignIn(staff=None)
    # Attempts on one account take turns: two wrong passwords at once must count as two, or a
    # guesser with many connections would never reach the lockout.
    session.refresh(staff, with_for_update=True)
    if staff.locked_until is not None and staff.locked_until > now:
        return SignIn(staff=None, locked_until=staff.locked_until)
    if not verify_password(staff.password_hash, password):
        staff.failed_logins = (staff.failed_logins or 0) + 1
        locked = staff.failed_logins >= MAX_FAILED_LOGINS
        if locked:
            staff.locked_until = now + LOCKOUT
            staff.failed_logins = 0
        session.flush()
        return SignIn(staff=None, locked_until=staff.locked_until if locked else None)
    staff.failed_logins = 0
    staff.locked_until = None
    session.flush()
    return SignIn(staff=staff)


def reset_password(session: Session, *, email: str, password: str) -> Staff:
    """An operator's reset (`ownwell user password`): the new password works at once and a
    lockout is lifted."""
    if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
        raise InvalidInput(
            f"the password needs at least {PASSWORD_MIN_CHARS} characters (at most {PASSWORD_MAX_CHARS})",
            field="password",
        )
    try:
        key = normalise_email(email.strip())
    except ValueError as exc:
        raise InvalidInput(f"not an e-mail address: {email!r}", field="email") from exc
    staff = repository.staff_by_email(session, key)
    if staff is None:
        raise NotFound(f"no staff member with e-mail {key}", field="email")
    session.refresh(staff, with_for_update=True)
    staff.password_hash = hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None
    session.flush()
    return staff
