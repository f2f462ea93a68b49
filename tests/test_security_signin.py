"""Issue #17: the sign-in form tells nobody which accounts exist, and nobody can lock another
person out: failures slow down the client address they come from, not the account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from ownwell.staff.signin_throttle import FAILURES_PER_ACCOUNT, FAILURES_PER_IP
from tests.staff_web import PASSWORD, csrf_of, make_staff

ATTACKER = ("203.0.113.66", 40000)
OFFICE = ("198.51.100.7", 50000)


@pytest.fixture
def from_ip(app) -> Iterator:  # type: ignore[no-untyped-def]
    """from_ip(address) -> a browser at that client address (one per address)."""
    clients: dict[tuple[str, int], TestClient] = {}

    def client_at(address: tuple[str, int]) -> TestClient:
        if address not in clients:
            clients[address] = TestClient(app, raise_server_exceptions=False, client=address).__enter__()
        return clients[address]

    yield client_at
    for client in clients.values():
        client.__exit__(None, None, None)


def _try(client: TestClient, email: str, password: str):  # type: ignore[no-untyped-def]
    form = client.get("/login")
    return client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "email": email, "password": password},
        follow_redirects=False,
    )


def _page(answer, email: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Status and page, without what differs by design: the typed address echoed in the form."""
    return answer.status_code, re.sub(r'value="[^"]*@[^"]*"', 'value=""', answer.text.replace(email, "E"))


def test_unknown_address_wrong_password_and_a_deactivated_account_get_the_same_answer(
    from_ip, session_factory, clock, admin
):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    make_staff(session_factory, clock, name="Lea Left", email="lea@ownwell.test")
    lea = next(s for s in admin.get("/staff").json()["items"] if s["email"] == "lea@ownwell.test")
    assert admin.patch(f"/staff/{lea['id']}", {"active": False}).status_code == 200
    browser = from_ip(OFFICE)
    unknown = _page(_try(browser, "nobody@ownwell.test", "not the password"), "nobody@ownwell.test")
    wrong = _page(_try(browser, "sam@ownwell.test", "not the password"), "sam@ownwell.test")
    gone = _page(_try(browser, "lea@ownwell.test", PASSWORD), "lea@ownwell.test")
    assert unknown == wrong == gone
    assert unknown[0] == 401 and "do not match" in unknown[1]


def test_an_account_under_attack_from_one_address_still_signs_in_from_another(
    from_ip, session_factory, clock
):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    attacker = from_ip(ATTACKER)
    for _ in range(FAILURES_PER_ACCOUNT * 3):
        _try(attacker, "sam@ownwell.test", "guess")
    assert _try(attacker, "sam@ownwell.test", PASSWORD).status_code == 429
    # Sam, from the office, sees no trace of it: a wrong password is just that, and the right
    # one signs in.
    office = from_ip(OFFICE)
    wrong = _try(office, "sam@ownwell.test", "typo")
    assert wrong.status_code == 401 and "do not match" in wrong.text
    assert _try(office, "sam@ownwell.test", PASSWORD).status_code == 303


def test_the_wait_reads_the_same_for_an_account_that_exists_and_one_that_does_not(
    from_ip, session_factory, clock
):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    attacker = from_ip(ATTACKER)
    for email in ("sam@ownwell.test", "nobody@ownwell.test"):
        for _ in range(FAILURES_PER_ACCOUNT):
            assert _try(attacker, email, "guess").status_code == 401
    known = _try(attacker, "sam@ownwell.test", "guess")
    unknown = _try(attacker, "nobody@ownwell.test", "guess")
    assert _page(known, "sam@ownwell.test") == _page(unknown, "nobody@ownwell.test")
    assert known.status_code == 429 and "Please wait 15 minutes" in known.text
    assert known.headers["retry-after"] == unknown.headers["retry-after"] == str(15 * 60)


def test_an_address_that_fails_too_often_waits_for_every_account_then_may_try_again(
    from_ip, session_factory, clock
):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    attacker = from_ip(ATTACKER)
    # Spread over many addresses, so that no one address reaches its own limit.
    for index in range(FAILURES_PER_IP):
        assert _try(attacker, f"guess{index}@ownwell.test", "guess").status_code == 401
        clock.advance(timedelta(seconds=10))
    for email, password in (("someone@ownwell.test", "guess"), ("sam@ownwell.test", PASSWORD)):
        waiting = _try(attacker, email, password)
        assert waiting.status_code == 429 and "Please wait" in waiting.text
        assert 0 < int(waiting.headers["retry-after"]) <= 15 * 60
    assert _try(from_ip(OFFICE), "sam@ownwell.test", PASSWORD).status_code == 303
    # The window slides: once the oldest failures are 15 minutes old, the address may try again.
    clock.advance(timedelta(minutes=15))
    assert _try(attacker, "sam@ownwell.test", PASSWORD).status_code == 303
