"""The audit log: each audited change is one row (who, when, what, before and after) that admins
read in the API and on a page, and that nothing in the app can change or delete."""

from __future__ import annotations

import pytest

from ownwell.app import API_PREFIX
from ownwell.staff.models import Role
from tests.conftest import make_staff_token
from tests.staff_web import make_staff, web_session_for


def test_a_cadence_change_is_one_audit_row_with_the_actor_and_the_old_and_new_value(admin):  # type: ignore[no-untyped-def]
    assert admin.put("/cadence-policies/complaint", {"update_every_minutes": 240}).status_code == 200
    assert (
        admin.put("/cadence-policies/complaint", {"update_every_minutes": 240}).status_code == 200
    )  # no change

    [entry] = [e for e in admin.get("/audit").json()["items"] if e["actor"]["name"] == "Ada Admin"]
    assert entry["action"] == "cadence_policy.changed"
    assert entry["target_id"] == "complaint"
    assert entry["actor"]["name"] == "Ada Admin"
    assert entry["after"] == {"update_every_minutes": 240}
    assert entry["before"]["update_every_minutes"] != 240
    assert admin.get("/audit", action="cadence_policy.changed").json()["items"] == [entry]
    assert admin.get("/audit", action="token.created").json()["items"] == []


def test_only_admins_read_the_audit_log(admin, as_token, session_factory, clock):  # type: ignore[no-untyped-def]
    for role in (Role.agent, Role.supervisor):
        token = make_staff_token(
            session_factory, clock, name=role.value, email=f"{role.value}@ownwell.test", role=role
        )
        refused = as_token(token).get("/audit")
        assert refused.status_code == 403
        assert "only an admin may read the audit log" in refused.json()["error"]["message"]
    assert as_token(None).get("/audit").status_code == 401


def test_no_route_of_the_app_changes_or_deletes_an_audit_row(app, admin):  # type: ignore[no-untyped-def]
    admin.put("/cadence-policies/question", {"update_every_minutes": 600})
    entries = admin.get("/audit").json()["items"]
    entry = entries[0]
    writes = {
        (method, route.path)  # type: ignore[attr-defined]
        for route in app.routes
        for method in getattr(route, "methods", set())
        if "audit" in getattr(route, "path", "") and method != "GET" and method != "HEAD"
    }
    assert writes == set()
    for method in ("put", "patch", "delete", "post"):
        answer = admin.client.request(method, f"{API_PREFIX}/audit/{entry['id']}", headers=admin.headers)
        assert answer.status_code in (404, 405)
    assert admin.get("/audit").json()["items"] == entries


@pytest.mark.parametrize("role", [Role.admin, Role.supervisor])
def test_the_audit_page_lists_changes_for_admins_only(client, session_factory, clock, role):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Maya Admin", email="maya@ownwell.test", role=role)
    csrf = web_session_for(client, session_factory, clock, "maya@ownwell.test")
    changed = client.post(
        "/settings/cadence/complaint",
        data={"csrf": csrf, "update_every_minutes": "90"},
        follow_redirects=False,
    )
    if role == Role.supervisor:
        assert client.get("/settings/audit").status_code == 403
        return
    assert changed.status_code == 303, changed.text
    page = client.get("/settings/audit")
    assert page.status_code == 200
    assert "cadence_policy.changed" in page.text
    assert "Maya Admin" in page.text
    assert "&#34;update_every_minutes&#34;: 90" in page.text or '"update_every_minutes": 90' in page.text
    assert 'href="/settings/audit"' in client.get("/settings").text


def test_people_departments_limits_and_tokens_are_audited_with_who_did_it(admin):  # type: ignore[no-untyped-def]
    billing = admin.post("/departments", {"name": "Billing"}).json()
    lea = admin.post(
        "/staff",
        {"name": "Lea Lind", "email": "lea@ownwell.test", "role": "agent", "department_ids": [billing["id"]]},
    ).json()
    admin.patch(f"/staff/{lea['id']}", {"role": "supervisor", "authority": {"refund": "250"}})
    token = admin.post(f"/staff/{lea['id']}/tokens", {"scope": "integrator"}).json()
    admin.client.delete(f"/api/v1/staff/{lea['id']}/tokens/{token['id']}", headers=admin.headers)

    by_ada = [e for e in admin.get("/audit").json()["items"] if e["actor"]["name"] == "Ada Admin"]
    entries = list(reversed(by_ada))
    assert [e["action"] for e in entries] == [
        "department.created",
        "staff.created",
        "staff.changed",
        "token.issued",
        "token.revoked",
    ]
    made_by_the_cli = admin.get("/audit", action="staff.created").json()["items"][-1]
    assert made_by_the_cli["actor"] == {"id": None, "name": "command line"}  # the admin fixture
    changed = entries[2]
    assert changed["target_id"] == lea["id"]
    assert changed["before"] == {
        "role": "agent",
        "authority": {**changed["before"]["authority"], "refund": "0.00"},
    }
    assert changed["after"]["role"] == "supervisor" and changed["after"]["authority"]["refund"] == "250.00"
    issued = entries[3]
    assert issued["after"]["scope"] == "integrator" and token["token"] not in str(issued)


def test_deactivating_someone_is_audited_with_the_tokens_it_revoked(admin):  # type: ignore[no-untyped-def]
    sam = admin.post("/staff", {"name": "Sam", "email": "sam@ownwell.test", "role": "agent"}).json()
    admin.post(f"/staff/{sam['id']}/tokens")
    assert admin.patch(f"/staff/{sam['id']}", {"active": False}).status_code == 200

    actions = [e["action"] for e in admin.get("/audit", target_id=sam["id"]).json()["items"]]
    assert actions[0] == "staff.deactivated"
    assert "token.revoked" in [
        e["action"] for e in admin.get("/audit", action="token.revoked").json()["items"]
    ]


def test_an_erasure_is_audited_with_its_reason_and_without_the_customers_data(admin):  # type: ignore[no-untyped-def]
    kim = admin.post("/customers", {"name": "Kim Sanders", "emails": ["kim.sanders@example.com"]}).json()
    erased = admin.post(f"/customers/{kim['id']}/erase", {"reason": "Art. 17 request of 2026-03-01"})
    assert erased.status_code == 200, erased.text

    [entry] = admin.get("/audit", action="customer.erased").json()["items"]
    assert entry["target_id"] == kim["id"]
    assert entry["actor"]["name"] == "Ada Admin"
    assert entry["reason"] == "Art. 17 request of 2026-03-01"
    assert "Kim" not in str(entry) and "kim.sanders" not in str(entry)


def test_a_filter_the_database_cannot_hold_is_refused_naming_it(admin):  # type: ignore[no-untyped-def]
    for name, value in (("action", "token\x00issued"), ("target_id", "x" * 101)):
        refused = admin.get("/audit", **{name: value})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == name
