"""Signing in and out of the staff web app: argon2 passwords, session cookie flags, lockout,
redirects for strangers, and CSRF on every form."""

from __future__ import annotations

from datetime import timedelta

from ownwell.staff.models import Role
from ownwell.staff.signin_throttle import FAILURES_PER_ACCOUNT
from tests.staff_web import PASSWORD, csrf_of, make_staff, web_sign_in


def _try(client, email: str, password: str):  # type: ignore[no-untyped-def]
    form = client.get("/login")
    return client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "email": email, "password": password},
        follow_redirects=False,
    )


def test_stranger_is_sent_to_sign_in_and_comes_back(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    answer = client.get("/?x=1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/%3Fx%3D1"
    form = client.get(answer.headers["location"])
    assert 'name="next" value="/?x=1"' in form.text
    signed = client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "email": "SAM@ownwell.test", "password": PASSWORD, "next": "/?x=1"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/?x=1"
    day = client.get("/")
    assert day.status_code == 200 and "My day" in day.text and "Sam Agent" in day.text


def test_htmx_request_without_session_gets_a_full_page_redirect(client):
    answer = client.get("/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert answer.status_code == 200 and answer.headers["hx-redirect"] == "/login"


def test_session_cookie_is_httponly_and_samesite(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    answer = _try(client, "sam@ownwell.test", PASSWORD)
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "ow_session=" in v)
    flags = cookie.lower()
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags


def test_open_redirects_are_refused(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    form = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text
    answer = client.post(
        "/login",
        data={
            "csrf": csrf_of(form.text),
            "email": "sam@ownwell.test",
            "password": PASSWORD,
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_wrong_password_and_unknown_email_get_the_same_answer(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    wrong = _try(client, "sam@ownwell.test", "not the password")
    unknown = _try(client, "nobody@ownwell.test", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.text and "do not match" in unknown.text
    assert "ow_session" not in client.cookies


def test_back_off_after_repeated_failures_and_release_later(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    for _ in range(FAILURES_PER_ACCOUNT):
        assert _try(client, "sam@ownwell.test", "guess").status_code == 401
    waiting = _try(client, "sam@ownwell.test", "guess")
    assert waiting.status_code == 429 and "Please wait 15 minutes" in waiting.text
    # Even the right password waits, from this address...
    assert _try(client, "sam@ownwell.test", PASSWORD).status_code == 429
    clock.advance(timedelta(minutes=16))
    # ...and is accepted once the window has passed.
    assert _try(client, "sam@ownwell.test", PASSWORD).status_code == 303


def test_success_resets_the_failure_count(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    for _ in range(FAILURES_PER_ACCOUNT - 1):
        _try(client, "sam@ownwell.test", "guess")
    assert _try(client, "sam@ownwell.test", PASSWORD).status_code == 303
    client.cookies.delete("ow_session")
    for _ in range(FAILURES_PER_ACCOUNT):  # counting from zero again: these may all be tried
        assert _try(client, "sam@ownwell.test", "guess").status_code == 401


def test_login_form_refuses_a_post_without_its_csrf_token(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    client.get("/login")
    answer = client.post(
        "/login", data={"email": "sam@ownwell.test", "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 403 and "ow_session" not in client.cookies


def test_logout_ends_the_session_on_the_server(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    csrf = web_sign_in(client, "sam@ownwell.test")
    stolen = client.cookies.get("ow_session")
    answer = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    client.cookies.set("ow_session", stolen)  # a copy of the old cookie no longer signs anyone in
    assert client.get("/", follow_redirects=False).status_code == 303


def test_session_expires_when_idle(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    web_sign_in(client, "sam@ownwell.test")
    clock.advance(timedelta(hours=13))
    assert client.get("/", follow_redirects=False).status_code == 303


def test_staff_without_a_password_cannot_sign_in(client, session_factory, clock, admin):
    # `admin` is made without a password, the way API-only users are.
    assert _try(client, "ada@ownwell.test", "").status_code == 422
    assert _try(client, "ada@ownwell.test", "anything at all").status_code == 401


def test_roles_do_not_matter_for_signing_in(client, session_factory, clock):
    make_staff(session_factory, clock, name="Sue Super", email="sue@ownwell.test", role=Role.supervisor)
    web_sign_in(client, "sue@ownwell.test")


def test_worker_deletes_expired_sessions_only(client, session_factory, clock, settings):
    from sqlalchemy import func, select

    from ownwell.db import unit_of_work
    from ownwell.web.jobs import purge_expired_sessions
    from ownwell.web.models import WebSession
    from tests.staff_web import web_session_for

    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    web_session_for(client, session_factory, clock, "sam@ownwell.test")
    clock.advance(timedelta(hours=13))
    web_session_for(client, session_factory, clock, "sam@ownwell.test")  # a new one, still valid
    for expected in (1, 0):  # the second sweep finds nothing left to do
        with unit_of_work(session_factory) as session:
            assert purge_expired_sessions(session, now=clock.now(), settings=settings) == expected
    with unit_of_work(session_factory) as session:
        assert session.scalar(select(func.count(WebSession.id))) == 1
    assert client.get("/", follow_redirects=False).status_code == 200


def test_wrong_passwords_at_the_same_time_all_count(clock):
    """A guesser with many connections still gets only FAILURES_PER_ACCOUNT tries at once."""
    from concurrent.futures import ThreadPoolExecutor

    from ownwell.staff.signin_throttle import Attempt, SignInThrottle

    throttle = SignInThrottle()

    def attempt() -> bool:
        outcome = throttle.begin(ip="203.0.113.9", email="ria@ownwell.test", now=clock.now())
        return isinstance(outcome, Attempt)

    with ThreadPoolExecutor(max_workers=8) as pool:
        went_ahead = [future.result() for future in [pool.submit(attempt) for _ in range(40)]]
    assert sum(went_ahead) == FAILURES_PER_ACCOUNT


def test_an_operator_resets_a_password_from_the_cli(client, session_factory, clock, migrated, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from ownwell.db import unit_of_work
    from ownwell.staff.models import Staff
    from ownwell.web.session import find_session, start_session

    staff_id = make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    with unit_of_work(session_factory) as session:  # signed in elsewhere, e.g. by whoever leaked it
        elsewhere = start_session(session, staff=session.get(Staff, staff_id), now=clock.now())

    def reset(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "ownwell"), "user", "password", *args],
            env={**os.environ, "OWNWELL_DATABASE_URL": migrated, "OWNWELL_SECRET_KEY": "auth-test"},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    short = reset("--email", "sam@ownwell.test", "--password", "short")
    assert short.returncode == 2 and "10 characters" in short.stderr
    unknown = reset("--email", "nobody@ownwell.test", "--password", "a-long-new-password")
    assert unknown.returncode == 2 and "nobody@ownwell.test" in unknown.stderr
    done = reset("--email", "SAM@ownwell.test", "--password", "a-long-new-password")
    assert done.returncode == 0, done.stderr
    assert "1 web session(s) ended" in done.stdout
    assert _try(client, "sam@ownwell.test", PASSWORD).status_code == 401  # the old one is gone
    assert _try(client, "sam@ownwell.test", "a-long-new-password").status_code == 303
    with unit_of_work(session_factory) as session:
        assert find_session(session, cookie=elsewhere, now=clock.now()) is None
