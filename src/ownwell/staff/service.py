"""The only writers of the staff domain. They flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ownwell.audit import service as audit
from ownwell.customers.rules import normalise_email
from ownwell.db import counts_at_end
from ownwell.errors import Conflict, InvalidInput, NotFound
from ownwell.kit.ids import new_id
from ownwell.staff import repository
from ownwell.staff.models import ApiToken, Department, Role, Staff, TokenScope
from ownwell.staff.schemas import PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, Authority, StaffIn, StaffPatch
from ownwell.staff.security import hash_password, hash_token, new_token, verify_password


def _audit(
    session: Session,
    *,
    by: Staff | None,
    now: datetime,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """`by` is None for the command line (and the demo loader, an import)."""
    audit.record(
        session,
        action=action,
        target_type=target_type,
        target_id=target_id,
        actor_id=by.id if by else None,
        actor_label=by.name if by else audit.COMMAND_LINE,
        now=now,
        before=before,
        after=after,
    )


def audited_fields(staff: Staff) -> dict[str, Any]:
    """What an admin changes about a person, as the audit log shows it (never a secret)."""
    return {
        "name": staff.name,
        "role": str(staff.role),
        "on_duty": staff.on_duty,
        "department_ids": sorted(d.id for d in staff.departments),
        "authority": {
            "refund": f"{staff.authority_refund:.2f}",
            "credit": f"{staff.authority_credit:.2f}",
            "replacement": f"{staff.authority_replacement:.2f}",
            "goodwill": f"{staff.authority_goodwill:.2f}",
        },
    }


def department_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def create_department(session: Session, *, name: str, now: datetime, by: Staff | None) -> Department:
    clean = " ".join(name.split())
    if repository.department_by_name_key(session, department_key(clean)):
        raise Conflict(f"a department named {clean!r} exists already", field="name")
    department = Department(id=new_id("dep"), name=clean, name_key=department_key(clean), created_at=now)
    session.add(department)
    session.flush()
    _audit(
        session,
        by=by,
        now=now,
        action="department.created",
        target_type="department",
        target_id=department.id,
        after={"name": clean},
    )
    return department


def ensure_department(session: Session, *, name: str, now: datetime, by: Staff | None) -> Department:
    existing = repository.department_by_name_key(session, department_key(name))
    return existing or create_department(session, name=name, now=now, by=by)


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


def create_staff(session: Session, *, data: StaffIn, now: datetime, by: Staff | None) -> Staff:
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
    _audit(
        session,
        by=by,
        now=now,
        action="staff.created",
        target_type="staff",
        target_id=staff.id,
        after={"email": staff.email, **audited_fields(staff)},
    )
    return staff


def update_staff(
    session: Session, *, staff: Staff, patch: StaffPatch, now: datetime, by: Staff | None
) -> Staff:
    before = audited_fields(staff)
    if patch.name is not None:
        staff.name = patch.name.strip()
    if patch.role is not None:
        staff.role = patch.role
    if patch.on_duty is not None:
        if patch.on_duty and not staff.active:
            raise Conflict(f"{staff.name} is deactivated and cannot be put on duty", field="on_duty")
        staff.on_duty = patch.on_duty
    if patch.authority is not None:
        _apply_authority(staff, patch.authority)
    if patch.department_ids is not None:
        staff.departments = _departments(session, patch.department_ids)
    session.flush()
    old, new = audit.changed(before, audited_fields(staff))
    if new:
        _audit(
            session,
            by=by,
            now=now,
            action="staff.changed",
            target_type="staff",
            target_id=staff.id,
            before=old,
            after=new,
        )
    return staff


def create_token(session: Session, *, staff: Staff, now: datetime) -> str:
    """A new staff-scope API token that does not expire (`ownwell user create`, the demo)."""
    return issue_token(session, staff=staff, now=now, by=None)[1]


def issue_token(
    session: Session,
    *,
    staff: Staff,
    now: datetime,
    by: Staff | None,
    scope: TokenScope = TokenScope.staff,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token and its secret; only its hash is kept, so this is the one time the
    secret can be seen."""
    if not staff.active:
        raise Conflict(f"{staff.name} is deactivated; reactivate them first", field="staff_id")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("a token must expire in the future", field="expires_at")
    secret = new_token()
    token = ApiToken(
        id=new_id("tok"),
        staff_id=staff.id,
        token_hash=hash_token(secret),
        created_at=now,
        scope=scope,
        expires_at=expires_at,
        last4=secret[-4:],
    )
    session.add(token)
    session.flush()
    _audit(
        session,
        by=by,
        now=now,
        action="token.issued",
        target_type="api_token",
        target_id=token.id,
        after={
            "staff_id": staff.id,
            "scope": str(scope),
            "expires_at": expires_at.isoformat() if expires_at else None,
            "last4": token.last4,
        },
    )
    return token, secret


def revoke_token(session: Session, *, token: ApiToken, now: datetime, by: Staff | None) -> ApiToken:
    """Refused from the next request on (see repository.token_holder for other processes).
    Revoking a revoked token changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()  # an ORM change to api_tokens: this process's token cache is emptied
        _audit(
            session,
            by=by,
            now=now,
            action="token.revoked",
            target_type="api_token",
            target_id=token.id,
            after={"staff_id": token.staff_id},
        )
    return token


def revoke_tokens_of(session: Session, *, staff: Staff, now: datetime, by: Staff | None) -> int:
    """Revoke every live token of a staff member; returns how many."""
    live = [token for token in repository.tokens_of(session, staff.id) if token.revoked_at is None]
    for token in live:
        revoke_token(session, token=token, now=now, by=by)
    return len(live)


def set_active(session: Session, *, staff: Staff, active: bool, now: datetime, by: Staff | None) -> int:
    """Deactivate (or reactivate) a staff member. Deactivated: off duty, so no routing picks
    them (every pick filters on duty), and every API token revoked; returns how many. Ending
    their web sessions and handing their cases on is cases.handover.deactivate's part.
    Reactivated: on duty again; tokens stay revoked."""
    session.refresh(staff, attribute_names=["active", "on_duty"], with_for_update=True)
    if staff.active == active:
        return 0
    staff.active = active
    staff.on_duty = active
    session.flush()
    _audit(
        session,
        by=by,
        now=now,
        action="staff.reactivated" if active else "staff.deactivated",
        target_type="staff",
        target_id=staff.id,
        before={"active": not active},
        after={"active": active},
    )
    return 0 if active else revoke_tokens_of(session, staff=staff, now=now, by=by)


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


_dummy_hash: list[str] = []


def _burn_time(password: str) -> None:
    # An unknown e-mail costs the same argon2 work as a wrong password: no account probing.
    if not _dummy_hash:
        _dummy_hash.append(hash_password("not-a-password-of-anyone"))
    verify_password(_dummy_hash[0], password)


def sign_in_key(email: str) -> str:
    """The typed address as accounts are looked up (and sign-in back-off counts) by it."""
    try:
        return normalise_email(email.strip())
    except ValueError:
        return email.strip().casefold()


def sign_in(session: Session, *, email: str, password: str) -> Staff | None:
    """The active staff member with this e-mail and password, or None, at the same cost
    whether or not the address is known. Back-off for repeated failures is the caller's
    (staff.signin_throttle), keyed by client address, not by account."""
    key = sign_in_key(email)
    staff = repository.staff_by_email(session, key) if key else None
    if staff is None:
        _burn_time(password)
        return None
    if not verify_password(staff.password_hash, password) or not staff.active:
        return None
    return staff


def reset_password(
    session: Session, *, email: str, password: str, now: datetime, keep_tokens: bool = False
) -> tuple[Staff, int]:
    """An operator's reset (`ownwell user password`): the new password works at once and,
    unless `keep_tokens`, every API token of the person is revoked (a reset usually means the
    account may be in someone else's hands). Returns the person and how many tokens went."""
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
    session.refresh(staff, attribute_names=["password_hash"], with_for_update=True)
    staff.password_hash = hash_password(password)
    session.flush()
    revoked = 0 if keep_tokens else revoke_tokens_of(session, staff=staff, now=now, by=None)
    _audit(
        session,
        by=None,
        now=now,
        action="staff.password_reset",
        target_type="staff",
        target_id=staff.id,
        after={"tokens_revoked": revoked},
    )
    return staff, revoked
