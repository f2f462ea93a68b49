"""Builders and helpers for tests of the staff web app (HTTP-level and in the browser)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from ownwell.clock import FrozenClock
from ownwell.db import unit_of_work
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Role
from ownwell.staff.schemas import Authority, StaffIn
from ownwell.staff.service import create_staff, ensure_department
from ownwell.web.session import COOKIE, start_session

PASSWORD = "correct horse battery"
CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')
_HASHES: dict[str, str] = {}


# Real argon2id, with cheap parameters: a hash carries its own parameters, so signing in with
# it costs milliseconds instead of the half second the production parameters take here.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _hash(password: str) -> str:
    if password not in _HASHES:
        _HASHES[password] = _CHEAP.hash(password)
    return _HASHES[password]


def make_staff(
    session_factory,  # type: ignore[no-untyped-def]
    clock: FrozenClock,
    *,
    name: str,
    email: str,
    role: Role = Role.agent,
    password: str = PASSWORD,
    departments: Sequence[str] = (),
    authority: dict[str, int] | None = None,
) -> str:
    """A staff member who can sign in to the web app; returns their id."""
    with unit_of_work(session_factory) as session:
        ids = [ensure_department(session, name=d, now=clock.now(), by=None).id for d in departments]
        staff = create_staff(
            session,
            data=StaffIn(
                name=name,
                email=email,
                role=role,
                department_ids=ids,
                authority=Authority(**{k: Decimal(v) for k, v in (authority or {}).items()}),
            ),
            now=clock.now(),
            by=None,
        )
        staff.password_hash = _hash(password)
        return staff.id


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def web_sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the login form; returns the session's CSRF token for later forms."""
    form = client.get("/login")
    assert form.status_code == 200, form.text
    answer = client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "email": email, "password": password, "next": "/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    day = client.get("/")
    assert day.status_code == 200, day.text
    return csrf_of(day.text)


def web_session_for(client: TestClient, session_factory, clock: FrozenClock, email: str) -> str:  # type: ignore[no-untyped-def]
    """Signed in without the login form (no argon2 work): for tests about what comes after.
    Returns the session's CSRF token."""
    with unit_of_work(session_factory) as session:
        staff = staff_repository.staff_by_email(session, email)
        assert staff is not None, email
        cookie = start_session(session, staff=staff, now=clock.now())
    client.cookies.set(COOKIE, cookie)
    day = client.get("/")
    assert day.status_code == 200, day.text
    return csrf_of(day.text)
