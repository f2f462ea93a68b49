"""Every form of the staff web app refuses a request without this session's CSRF token, and
changes nothing. Adding a POST route to the web app? Add it to FORM_ROUTES."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from ownwell.staff.models import Role
from tests.staff_web import make_staff, web_session_for

# Path templates; {case_id}, {commitment_id}, {offer_id}, {customer_id} come from `world`.
FORM_ROUTES = [
    "/logout",
    "/commitments/{commitment_id}/keep",
    # The case page and Customer 360.
    "/cases/{case_id}/messages",
    "/cases/{case_id}/commitments",
    "/cases/{case_id}/commitments/{commitment_id}/renegotiate",
    "/cases/{case_id}/transfer",
    "/cases/{case_id}/attribute",
    "/cases/{case_id}/resolve",
    "/cases/{case_id}/reopen",
    "/cases/{case_id}/offers",
    "/cases/{case_id}/offers/{offer_id}/approve",
    "/cases/{case_id}/offers/{offer_id}/reject",
    "/customers/{customer_id}/facts",
    "/customers/{customer_id}/erase",
    # Supervisor and admin pages (ids need not exist: the token is checked before anything else).
    "/settings/departments",
    "/settings/staff",
    "/settings/staff/stf_00000000000000000000000000/authority",
    "/settings/cadence/complaint",
    "/approvals/off_00000000000000000000000000/approve",
    "/approvals/off_00000000000000000000000000/reject",
    "/outbox/msg_00000000000000000000000000/retry",
    "/incidents",
    "/incidents/inc_00000000000000000000000000/updates",
    "/insights/recurring/rci_00000000000000000000000000/merge",
    "/insights/recurring/rci_00000000000000000000000000/split",
    "/insights/recurring/rci_00000000000000000000000000/root-cause",
    "/insights/prevention/prv_00000000000000000000000000/done",
]


@pytest.fixture
def world(admin, client, session_factory, clock):  # type: ignore[no-untyped-def]
    """A signed-in supervisor and a case of their department with an open promise."""
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Care"],
    )
    care = next(d for d in admin.get("/departments").json()["items"] if d["name"] == "Care")
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Mia", "emails": ["mia@example.com"]},
            "subject": "Lamp",
            "body": "Broken lamp",
            "channel": "email",
            "kind": "complaint",
            "caused_by_department_id": care["id"],
        },
    ).json()
    due = (clock.now() + timedelta(hours=3)).isoformat()
    commitment = admin.post(f"/cases/{case['id']}/commitments", {"text": "New lamp", "due_at": due}).json()
    offer = admin.post(
        f"/cases/{case['id']}/offers", {"type": "refund", "amount": "30", "currency": "EUR", "note": "Fair"}
    ).json()
    assert offer["status"] == "pending_approval"
    csrf = web_session_for(client, session_factory, clock, "sue@ownwell.test")
    return {
        "case_id": case["id"],
        "commitment_id": commitment["id"],
        "offer_id": offer["id"],
        "customer_id": case["customer_id"],
        "csrf": csrf,
    }


def _state(admin, world) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    case = admin.get(f"/cases/{world['case_id']}").json()
    timeline = admin.get(f"/cases/{world['case_id']}/timeline").json()["items"]
    commitments = admin.get(f"/cases/{world['case_id']}/commitments").json()
    offers = admin.get(f"/cases/{world['case_id']}/offers").json()["items"]
    facts = admin.get(f"/customers/{world['customer_id']}").json()["facts"]
    return (
        case["status"],
        case["owner"]["id"],
        case["caused_by_department_id"],
        len(timeline),
        [c["status"] for c in commitments],
        [o["status"] for o in offers],
        len(facts),
    )


@pytest.mark.parametrize("route", FORM_ROUTES)
def test_form_without_a_valid_csrf_token_is_refused(admin, client, world, route: str):  # type: ignore[no-untyped-def]
    before = _state(admin, world)
    token = world["csrf"]
    altered = token[:-1] + ("1" if token[-1] == "0" else "0")  # one character off
    for data in ({}, {"csrf": "forged-token"}, {"csrf": altered}):
        answer = client.post(route.format(**world), data=data, follow_redirects=False)
        assert answer.status_code == 403, (route, data, answer.status_code, answer.text[:300])
    assert _state(admin, world) == before
    # ...and the session is still there: the refusal did not sign the person out either.
    assert client.get("/", follow_redirects=False).status_code == 200


def test_a_token_from_another_session_is_refused(admin, client, world, session_factory, clock):  # type: ignore[no-untyped-def]
    old = world["csrf"]
    client.cookies.delete("ow_session")
    web_session_for(client, session_factory, clock, "sue@ownwell.test")  # a new session has a new CSRF secret
    answer = client.post(
        f"/commitments/{world['commitment_id']}/keep", data={"csrf": old}, follow_redirects=False
    )
    assert answer.status_code == 403


def test_the_same_form_with_its_token_works(admin, client, world):  # type: ignore[no-untyped-def]
    answer = client.post(
        f"/commitments/{world['commitment_id']}/keep", data={"csrf": world["csrf"]}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert admin.get(f"/cases/{world['case_id']}/commitments").json()[0]["status"] == "kept"


# Forms outside the staff app, with CSRF checks of their own (tested in their own files).
PUBLIC_FORMS = {
    "/login",
    "/help",
    "/feedback/{token}",
    "/portal/{token}/reply",
    "/portal/{token}/fair-solution",
    "/portal/{token}/feedback",
}


def test_every_staff_form_route_is_listed_above():
    """A new POST route in a web module fails here until it is added to FORM_ROUTES."""
    source = Path(__file__).resolve().parents[1] / "src" / "ownwell"
    declared = {
        path
        for file in source.rglob("web*.py")  # pages live in web.py / web_*.py (STYLE.md)
        for path in re.findall(r'@router\.post\(\s*"([^"]+)"', file.read_text())
    }
    sample = {"case_id": "cas_x", "commitment_id": "com_x", "offer_id": "off_x", "customer_id": "cus_x"}
    listed = [route.format(**sample) for route in FORM_ROUTES]
    missing = [
        path
        for path in sorted(declared - PUBLIC_FORMS)
        if not any(re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", path), url) for url in listed)
    ]
    assert missing == [], f"add these POST routes to FORM_ROUTES: {missing}"
