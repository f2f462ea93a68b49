"""Issue #17: API tokens expire and are revoked at once, scopes (staff, integrator) limit what a
token may call, a deactivated staff member is shut out and their cases handed on, and a password
reset revokes the person's tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from ownwell.db import short_cache
from tests.staff_web import make_staff, web_session_for
from tests.test_intake_lane import _lane


def _staff(admin, name, email, role="agent", departments=(), on_duty=True):  # type: ignore[no-untyped-def]
    made = admin.post(
        "/staff",
        {"name": name, "email": email, "role": role, "department_ids": list(departments), "on_duty": on_duty},
    )
    assert made.status_code == 201, made.text
    return made.json()


def _token(admin, staff_id, **body):  # type: ignore[no-untyped-def]
    made = admin.post(f"/staff/{staff_id}/tokens", body or None)
    assert made.status_code == 201, made.text
    return made.json()


def _me(api, email):  # type: ignore[no-untyped-def]
    return next(s for s in api.get("/staff").json()["items"] if s["email"] == email)


def _case(api, email="kim@example.com", **extra):  # type: ignore[no-untyped-def]
    made = api.post("/cases", {"customer": {"emails": [email]}, "body": "It broke again.", **extra})
    assert made.status_code == 201, made.text
    return made.json()


@pytest.fixture
def integrator(admin, as_token):  # type: ignore[no-untyped-def]
    """A shop's connector: an integrator token held by an off-duty service account."""
    shop = _staff(admin, "Shop Connector", "shop@acme.test", on_duty=False)
    return as_token(_token(admin, shop["id"], scope="integrator")["token"])


@pytest.fixture
def cli(migrated, monkeypatch):  # type: ignore[no-untyped-def]
    """Run `ownwell ...` in this process against the test database."""
    from ownwell.cli import app
    from ownwell.config import get_settings

    monkeypatch.setenv("OWNWELL_DATABASE_URL", migrated)
    monkeypatch.setenv("OWNWELL_SECRET_KEY", "cli-test-secret")
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


# --- expiry and revocation -------------------------------------------------------------------


def test_a_token_past_its_expiry_is_refused_at_once_even_for_a_new_case(admin, as_token, clock, app):
    ann = _staff(admin, "Ann Agent", "ann@acme.test")
    expires = (clock.now() + timedelta(hours=1)).isoformat()
    made = _token(admin, ann["id"], expires_at=expires)
    assert made["expires_at"].startswith((clock.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    api = as_token(made["token"])
    assert api.get("/cases").status_code == 200  # now in the process's token cache
    _case(api)
    clock.advance(timedelta(hours=1))
    assert api.get("/cases").status_code == 401
    # The intake lane, which answers a token it saw a moment ago before FastAPI routes it,
    # refuses it too.
    lane = _lane(app)
    taken = lane.counts.taken
    refused = api.post("/cases", {"customer": {"emails": ["x@example.com"]}, "body": "Hello"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_authenticated"
    assert lane.counts.taken == taken + 1


def test_an_integrator_intake_through_the_lane_is_held_to_its_scope(admin, integrator, app):
    _case(integrator)  # the route's way: the token is looked up
    lane = _lane(app)
    taken = lane.counts.taken
    assert _case(integrator, "again@example.com")["owner"]["id"]
    assert lane.counts.taken == taken + 1
    assert integrator.get("/cases").status_code == 403


def test_a_token_cannot_be_made_already_expired(admin, clock):
    ann = _staff(admin, "Ann Agent", "ann@acme.test")
    past = admin.post(f"/staff/{ann['id']}/tokens", {"expires_at": clock.now().isoformat()})
    assert past.status_code == 422 and past.json()["error"]["field"] == "expires_at"


def test_a_token_revoked_through_the_api_is_refused_on_the_very_next_request(admin, as_token):
    ann = _staff(admin, "Ann Agent", "ann@acme.test")
    made = _token(admin, ann["id"])
    api = as_token(made["token"])
    _case(api)  # cached for the intake lane and for every other route
    assert api.get("/cases").status_code == 200
    revoked = api.client.delete(f"/api/v1/staff/{ann['id']}/tokens/{made['id']}", headers=api.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert api.get("/cases").status_code == 401
    assert api.post("/cases", {"customer": {"emails": ["y@example.com"]}, "body": "Hi"}).status_code == 401


def test_the_token_list_shows_scope_dates_and_last_four_characters_never_the_secret(admin, as_token):
    ann = _staff(admin, "Ann Agent", "ann@acme.test")
    first = _token(admin, ann["id"])
    second = _token(admin, ann["id"], scope="integrator")
    listed = admin.get(f"/staff/{ann['id']}/tokens")
    assert listed.status_code == 200
    assert listed.json()["next_cursor"] is None
    items = listed.json()["items"]
    assert [t["id"] for t in items] == [second["id"], first["id"]]
    assert [t["scope"] for t in items] == ["integrator", "staff"]
    assert [t["last4"] for t in items] == [second["token"][-4:], first["token"][-4:]]
    assert set(items[0]) == {"id", "staff_id", "scope", "created_at", "expires_at", "revoked_at", "last4"}
    assert first["token"] not in listed.text and second["token"] not in listed.text
    one = admin.get(f"/staff/{ann['id']}/tokens/{first['id']}")
    assert one.status_code == 200 and one.json() == items[1]


def test_a_person_sees_and_revokes_their_own_tokens_but_not_anothers(admin, as_token):
    ann = _staff(admin, "Ann Agent", "ann@acme.test")
    bo = _staff(admin, "Bo Other", "bo@acme.test", role="supervisor")
    ann_token = _token(admin, ann["id"])
    bo_token = _token(admin, bo["id"])
    ann_api, bo_api = as_token(ann_token["token"]), as_token(bo_token["token"])
    assert ann_api.get(f"/staff/{ann['id']}/tokens").status_code == 200
    assert bo_api.get(f"/staff/{ann['id']}/tokens").status_code == 403  # a supervisor is not an admin
    assert bo_api.get(f"/staff/{ann['id']}/tokens/{ann_token['id']}").status_code == 403
    stolen = bo_api.client.delete(
        f"/api/v1/staff/{ann['id']}/tokens/{ann_token['id']}", headers=bo_api.headers
    )
    assert stolen.status_code == 403
    # A token id under another person's path is not found, whoever asks.
    assert admin.get(f"/staff/{bo['id']}/tokens/{ann_token['id']}").status_code == 404
    own = ann_api.client.delete(
        f"/api/v1/staff/{ann['id']}/tokens/{ann_token['id']}", headers=ann_api.headers
    )
    assert own.status_code == 200
    assert ann_api.get("/cases").status_code == 401
    assert bo_api.get("/cases").status_code == 200


def test_only_admins_issue_tokens_and_integrator_tokens(admin, as_token):
    sue = _staff(admin, "Sue Super", "sue@acme.test", role="supervisor")
    sue_api = as_token(_token(admin, sue["id"])["token"])
    assert sue_api.post(f"/staff/{sue['id']}/tokens", {"scope": "integrator"}).status_code == 403
    assert sue_api.post(f"/staff/{sue['id']}/tokens").status_code == 403
    bad = admin.post(f"/staff/{sue['id']}/tokens", {"scope": "root"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "scope"


# --- the integrator scope ---------------------------------------------------------------------


def test_an_integrator_token_calls_only_the_integration_routes(admin, integrator):
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    customer = integrator.post("/customers", {"name": "Kim Lee", "emails": ["kim@example.com"]})
    assert customer.status_code == 201, customer.text
    found = integrator.get("/customers", identifier="kim@example.com")
    assert [c["id"] for c in found.json()["items"]] == [customer.json()["id"]]
    order = integrator.post(
        "/orders",
        {
            "external_id": "A-1",
            "customer_id": customer.json()["id"],
            "promised_by": "2026-03-05T12:00:00Z",
            "department_id": shipping["id"],
        },
    )
    assert order.status_code == 201, order.text
    assert integrator.get(f"/orders/{order.json()['id']}").status_code == 200
    assert integrator.get("/orders", external_id="A-1").status_code == 200
    shipped = {"type": "shipped", "occurred_at": "2026-03-02T08:00:00Z"}
    assert integrator.post(f"/orders/{order.json()['id']}/events", shipped).status_code == 201
    batch = integrator.post("/order-events", {"items": [{"order_external_id": "A-1", **shipped}]})
    assert batch.status_code == 200
    case = _case(integrator)
    words = {"body": "Still nothing.", "from_customer": True}
    assert integrator.post(f"/cases/{case['id']}/messages", words).status_code == 201

    refused = [
        integrator.get("/cases"),
        integrator.get(f"/cases/{case['id']}"),
        integrator.get("/customers"),  # the whole customer list: no, only a look-up
        integrator.get(f"/customers/{customer.json()['id']}"),
        integrator.get("/staff"),
        integrator.get("/agenda"),
        integrator.patch(f"/cases/{case['id']}", {"subject": "Mine now"}),
        integrator.post(f"/cases/{case['id']}/messages", {"body": "We are on it."}),
        integrator.post(f"/cases/{case['id']}/resolve", {"summary": "Done."}),
        integrator.post("/departments", {"name": "Rogue"}),
    ]
    for answer in refused:
        assert answer.status_code == 403, (answer.request.method, answer.request.url)
        assert "integrator" in answer.json()["error"]["message"]


def test_messages_from_the_customer_are_refused_for_staff_tokens_of_every_role(admin, as_token):
    billing = admin.post("/departments", {"name": "Billing"}).json()
    owner = _staff(admin, "Olli Owner", "olli@acme.test", departments=[billing["id"]])
    sue = _staff(admin, "Sue Super", "sue@acme.test", role="supervisor", departments=[billing["id"]])
    case = _case(admin, caused_by_department_id=billing["id"])
    assert case["owner"]["id"] == owner["id"]
    words = {"body": "The blue one.", "from_customer": True}
    for api in (
        as_token(_token(admin, owner["id"])["token"]),
        as_token(_token(admin, sue["id"])["token"]),
        admin,
    ):
        refused = api.post(f"/cases/{case['id']}/messages", words)
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "from_customer"
    timeline = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    assert not [e for e in timeline if e["kind"] == "message_in"]


def test_an_integrator_may_post_the_customers_words_on_any_case(admin, integrator):
    case = _case(admin)
    answer = integrator.post(
        f"/cases/{case['id']}/messages", {"body": "The blue one.", "from_customer": True}
    )
    assert answer.status_code == 201, answer.text
    last = admin.get(f"/cases/{case['id']}/timeline").json()["items"][-1]
    assert last["kind"] == "message_in" and last["actor"]["type"] == "customer"


# --- the command line ---------------------------------------------------------------------------


def test_the_cli_makes_scoped_expiring_tokens_and_revokes_them_by_id_or_by_person(
    admin, as_token, cli, clock, app
):
    ann = _staff(admin, "Ann Agent", "ann@acme.test")
    made = cli(
        "token", "create", "--email", "ANN@acme.test", "--scope", "integrator", "--expires-in-days", "3"
    )
    assert made.exit_code == 0, made.output
    assert made.output.count("\n") == 1 and made.output.startswith("ow_")
    listed = admin.get(f"/staff/{ann['id']}/tokens").json()["items"]
    assert [(t["scope"], t["last4"]) for t in listed] == [("integrator", made.output.strip()[-4:])]
    assert listed[0]["expires_at"] is not None
    bad = cli("token", "create", "--email", "ann@acme.test", "--scope", "root")
    assert bad.exit_code == 2 and "scope" in bad.output

    plain = as_token(cli("token", "create", "--email", "ann@acme.test").output.strip())
    other = as_token(cli("token", "create", "--email", "ann@acme.test").output.strip())
    assert plain.get("/cases").status_code == other.get("/cases").status_code == 200
    seconds = [0.0]
    cache = short_cache(app.state.session_factory)
    cache.timer = lambda: seconds[0]
    cache.clear()
    assert plain.get("/cases").status_code == 200
    plain_id = admin.get(f"/staff/{ann['id']}/tokens").json()["items"][1]["id"]
    assert cli("token", "revoke", "--id", plain_id).exit_code == 0
    # The CLI is another process: this one may accept the token until its cache entry ends.
    seconds[0] += cache.ttl_s
    assert plain.get("/cases").status_code == 401
    assert other.get("/cases").status_code == 200
    everything = cli("token", "revoke", "--email", "ann@acme.test")
    assert everything.exit_code == 0 and "2 API token(s) revoked" in everything.output
    seconds[0] += cache.ttl_s
    assert other.get("/cases").status_code == 401
    assert cli("token", "revoke", "--id", "tok_nope").exit_code == 2
    assert cli("token", "revoke").exit_code == 2


def test_a_password_reset_revokes_the_persons_tokens_unless_told_to_keep_them(
    admin, as_token, cli, session_factory, clock, app
):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    sam = _me(admin, "sam@ownwell.test")
    kept = as_token(_token(admin, sam["id"])["token"])
    keep = cli(
        "user",
        "password",
        "--email",
        "sam@ownwell.test",
        "--password",
        "a-long-new-password",
        "--keep-tokens",
    )
    assert keep.exit_code == 0, keep.output
    assert "API tokens kept" in keep.output
    short_cache(app.state.session_factory).clear()  # the CLI is another process: skip the cache window
    assert kept.get("/cases").status_code == 200
    reset = cli("user", "password", "--email", "sam@ownwell.test", "--password", "another-new-password")
    assert reset.exit_code == 0, reset.output
    assert "1 API token(s) revoked" in reset.output
    short_cache(app.state.session_factory).clear()
    assert kept.get("/cases").status_code == 401


# --- deactivation -------------------------------------------------------------------------------


@pytest.fixture
def leaver(admin, as_token, session_factory, clock, client):  # type: ignore[no-untyped-def]
    """Bea, in Billing with Cy, owns open cases (one attributed to Billing, one not, one
    waiting on the customer), a resolved one, and promises; she is signed in on the web."""
    make_staff(session_factory, clock, name="Bea Leaving", email="bea@acme.test", departments=["Billing"])
    make_staff(session_factory, clock, name="Cy Staying", email="cy@acme.test", departments=["Billing"])
    bea, cy = _me(admin, "bea@acme.test"), _me(admin, "cy@acme.test")
    billing = bea["department_ids"][0]
    api = as_token(_token(admin, bea["id"])["token"])
    cases = [_case(admin, f"c{i}@example.com", caused_by_department_id=billing) for i in range(4)]
    loose = _case(admin, "loose@example.com")
    if loose["owner"]["id"] != bea["id"]:
        handed = {"to_staff_id": bea["id"], "handoff_note": "Bea knows this customer."}
        assert admin.post(f"/cases/{loose['id']}/transfer", handed).status_code == 200
    mine = [c for c in cases if c["owner"]["id"] == bea["id"]] + [loose]
    assert len(mine) == 3
    due = (clock.now() + timedelta(days=1)).isoformat()
    promise = api.post(f"/cases/{mine[0]['id']}/commitments", {"text": "Call back", "due_at": due})
    assert promise.status_code == 201, promise.text
    theirs = next(c for c in cases if c["owner"]["id"] == cy["id"])
    on_cys = admin.post(
        f"/cases/{theirs['id']}/commitments",
        {"text": "Check the refund", "due_at": due, "owner_id": bea["id"]},
    )
    assert on_cys.status_code == 201, on_cys.text
    waiting = {"body": "Which colour was it?", "wait_for_customer": True}
    assert api.post(f"/cases/{mine[1]['id']}/messages", waiting).status_code == 201
    assert admin.post(f"/cases/{mine[2]['id']}/resolve", {"summary": "Refunded."}).status_code == 200
    web_session_for(client, session_factory, clock, "bea@acme.test")
    return {"bea": bea, "cy": cy, "api": api, "billing": billing, "open": mine[:2], "resolved": mine[2]}


def _check_handed_on(admin, leaver):  # type: ignore[no-untyped-def]
    bea = leaver["bea"]
    for case in leaver["open"]:
        now = admin.get(f"/cases/{case['id']}").json()
        assert now["owner"]["id"] not in (bea["id"], None)
        events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
        handoff = [e for e in events if e["kind"] == "handoff"][-1]
        assert "deactivated" in handoff["text"] and handoff["data"]["from"]["id"] == bea["id"]
        for promise in admin.get(f"/cases/{case['id']}/commitments").json():
            assert promise["owner_id"] == now["owner"]["id"]
    assert admin.get(f"/cases/{leaver['resolved']['id']}").json()["owner"]["id"] == bea["id"]
    assert [
        c for c in admin.get("/cases", owner_id=bea["id"]).json()["items"] if c["status"] != "resolved"
    ] == []
    for case in admin.get("/cases").json()["items"]:
        for promise in admin.get(f"/cases/{case['id']}/commitments").json():
            assert promise["owner_id"] != bea["id"] or promise["status"] not in ("open", "renegotiated")


def _check_shut_out(admin, leaver, client, as_token):  # type: ignore[no-untyped-def]
    bea = leaver["bea"]
    assert leaver["api"].get("/cases").status_code == 401
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    new_owners = {
        _case(admin, f"new{i}@example.com", caused_by_department_id=leaver["billing"])["owner"]["id"]
        for i in range(3)
    }
    assert new_owners == {leaver["cy"]["id"]}
    # Not as a customer's personal contact either.
    customer = admin.post(
        "/customers", {"name": "Pat", "emails": ["pat@example.com"], "personal_contact_id": bea["id"]}
    )
    assert customer.status_code == 201, customer.text
    assert _case(admin, "pat@example.com")["owner"]["id"] != bea["id"]
    staff = admin.get(f"/staff/{bea['id']}").json()
    assert staff["active"] is False and staff["on_duty"] is False


def test_an_admin_deactivates_a_staff_member_through_the_api(admin, as_token, leaver, client):
    answer = admin.patch(f"/staff/{leaver['bea']['id']}", {"active": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False and answer.json()["open_case_count"] == 0
    _check_handed_on(admin, leaver)
    _check_shut_out(admin, leaver, client, as_token)
    assert admin.get(f"/staff/{leaver['bea']['id']}/tokens").json()["items"][0]["revoked_at"] is not None


def test_an_operator_deactivates_a_staff_member_from_the_cli(admin, as_token, leaver, client, cli, app):
    done = cli("user", "deactivate", "--email", "bea@acme.test")
    assert done.exit_code == 0, done.output
    assert "1 web session(s) ended, 1 API token(s) revoked, 2 open case(s) handed on" in done.output
    short_cache(app.state.session_factory).clear()  # the CLI is another process: skip the cache window
    _check_handed_on(admin, leaver)
    _check_shut_out(admin, leaver, client, as_token)
    assert cli("user", "deactivate", "--email", "nobody@acme.test").exit_code == 2


def test_a_supervisor_may_not_deactivate_anyone(admin, as_token, leaver):
    sue = _staff(admin, "Sue Super", "sue@acme.test", role="supervisor", departments=[leaver["billing"]])
    sue_api = as_token(_token(admin, sue["id"])["token"])
    assert sue_api.patch(f"/staff/{leaver['bea']['id']}", {"active": False}).status_code == 403
    assert leaver["api"].get("/cases").status_code == 200


def test_without_anyone_to_take_over_deactivation_changes_nothing(admin, as_token, leaver):
    others = [s for s in admin.get("/staff").json()["items"] if s["id"] != leaver["bea"]["id"]]
    for person in others:  # Cy, the admin herself: nobody else is on duty
        assert admin.patch(f"/staff/{person['id']}", {"on_duty": False}).status_code == 200
    refused = admin.patch(f"/staff/{leaver['bea']['id']}", {"active": False})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_owner_available"
    assert leaver["api"].get("/cases").status_code == 200
    for case in leaver["open"]:
        assert admin.get(f"/cases/{case['id']}").json()["owner"]["id"] == leaver["bea"]["id"]


def test_reactivating_brings_the_person_back_on_duty_but_not_their_cases_or_tokens(admin, leaver, as_token):
    bea = leaver["bea"]
    assert admin.patch(f"/staff/{bea['id']}", {"active": False}).status_code == 200
    back = admin.patch(f"/staff/{bea['id']}", {"active": True})
    assert back.status_code == 200 and back.json()["active"] is True and back.json()["on_duty"] is True
    for case in leaver["open"]:
        assert admin.get(f"/cases/{case['id']}").json()["owner"]["id"] != bea["id"]
    assert leaver["api"].get("/cases").status_code == 401
    assert as_token(_token(admin, bea["id"])["token"]).get("/cases").status_code == 200


def test_a_deactivated_person_cannot_be_put_on_duty_or_given_a_token(admin, leaver):
    bea = leaver["bea"]
    assert admin.patch(f"/staff/{bea['id']}", {"active": False}).status_code == 200
    assert admin.patch(f"/staff/{bea['id']}", {"on_duty": True}).status_code == 409
    assert admin.post(f"/staff/{bea['id']}/tokens").status_code == 409


def test_an_admin_cannot_deactivate_themselves(admin):
    me = _me(admin, "ada@ownwell.test")
    assert admin.patch(f"/staff/{me['id']}", {"active": False}).status_code == 409
    assert admin.get("/cases").status_code == 200


def test_nobody_hands_a_case_or_a_promise_to_a_deactivated_person(admin, leaver, clock):
    bea, cy = leaver["bea"], leaver["cy"]
    assert admin.patch(f"/staff/{bea['id']}", {"active": False}).status_code == 200
    case = _case(admin, "later@example.com", caused_by_department_id=leaver["billing"])
    assert case["owner"]["id"] == cy["id"]
    moved = admin.post(
        f"/cases/{case['id']}/transfer", {"to_staff_id": bea["id"], "handoff_note": "Back to Bea"}
    )
    assert moved.status_code == 409 and moved.json()["error"]["field"] == "to_staff_id"
    due = (clock.now() + timedelta(days=1)).isoformat()
    promise = admin.post(
        f"/cases/{case['id']}/commitments", {"text": "Call", "due_at": due, "owner_id": bea["id"]}
    )
    assert promise.status_code == 422 and promise.json()["error"]["field"] == "owner_id"
