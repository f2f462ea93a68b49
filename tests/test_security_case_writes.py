"""Issue #17: every write on a case is for its owner, a supervisor of one of the case's
departments (its attribution, and its owner's departments) or an admin; internal notes are open
to every staff member. Offers are decided by the department fixed when they were made, and
authority limits hold for the running total per case and type, in the organisation's currency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.staff_web import web_session_for

NOTE = "Kettle arrived cracked; customer already waited a week"


def _person(admin, as_token, *, name, email, role, departments, authority=None):  # type: ignore[no-untyped-def]
    body = {"name": name, "email": email, "role": role, "department_ids": [d["id"] for d in departments]}
    if authority:
        body["authority"] = authority
    staff = admin.post("/staff", body)
    assert staff.status_code == 201, staff.text
    token = admin.post(f"/staff/{staff.json()['id']}/tokens").json()["token"]
    return staff.json(), as_token(token)


@pytest.fixture
def org(admin, as_token):  # type: ignore[no-untyped-def]
    """Care answers for the case, which Noor owns; Tia is another Care agent, Vera supervises
    Care and Otto supervises Billing (another department)."""
    care = admin.post("/departments", {"name": "Care"}).json()
    billing = admin.post("/departments", {"name": "Billing"}).json()
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    noor, noor_api = _person(
        admin,
        as_token,
        name="Noor Owner",
        email="noor@acme.test",
        role="agent",
        departments=[care],
        authority={"refund": "50.00"},
    )
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Kai Lund", "emails": ["kai@example.com"]},
            "subject": "Cracked kettle",
            "body": "My kettle arrived cracked.",
            "kind": "complaint",
            "caused_by_department_id": care["id"],
        },
    ).json()
    assert case["owner"]["id"] == noor["id"]
    people = {"noor": (noor, noor_api), "admin": ({"id": None}, admin)}
    for key, name, role, department in (
        ("tia", "Tia Agent", "agent", care),
        ("vera", "Vera Care", "supervisor", care),
        ("otto", "Otto Billing", "supervisor", billing),
        ("sam", "Sam Shipping", "supervisor", shipping),
    ):
        people[key] = _person(
            admin, as_token, name=name, email=f"{key}@acme.test", role=role, departments=[department]
        )
    return {"case": case, "care": care, "billing": billing, "shipping": shipping, "people": people}


def _state(admin, case_id):  # type: ignore[no-untyped-def]
    """Everything a write could change: the case, its timeline, its promises and its mail."""
    case = admin.get(f"/cases/{case_id}").json()
    timeline = [e["id"] for e in admin.get(f"/cases/{case_id}/timeline").json()["items"]]
    commitments = admin.get(f"/cases/{case_id}/commitments").json()
    outbox = admin.get("/outbox", limit=200, case_id=case_id).json()["items"]
    return case, timeline, commitments, [m["id"] for m in outbox]


def _due(clock):  # type: ignore[no-untyped-def]
    return (clock.now() + timedelta(hours=3)).isoformat()


WRITES = {
    "reply": lambda api, case, clock: api.post(
        f"/cases/{case['id']}/messages", {"body": "We'll send a new kettle.", "visibility": "customer"}
    ),
    "promise": lambda api, case, clock: api.post(
        f"/cases/{case['id']}/commitments", {"text": "Call back", "due_at": _due(clock)}
    ),
    "subject": lambda api, case, clock: api.patch(f"/cases/{case['id']}", {"subject": "Refund now"}),
    "kind": lambda api, case, clock: api.patch(f"/cases/{case['id']}", {"kind": "question"}),
    "attribution": lambda api, case, clock: api.patch(
        f"/cases/{case['id']}", {"caused_by_department_id": None}
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("who", ["tia", "otto"])
def test_an_agent_non_owner_or_a_supervisor_of_another_department_cannot_write_on_the_case(
    admin, org, clock, write, who
):  # type: ignore[no-untyped-def]
    case = org["case"]
    before = _state(admin, case["id"])
    answer = WRITES[write](org["people"][who][1], case, clock)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"]["code"] == "forbidden"
    assert "only the case owner or a supervisor of its department" in answer.json()["error"]["message"]
    assert _state(admin, case["id"]) == before


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("who", ["noor", "vera", "admin"])
def test_the_owner_a_supervisor_of_the_cases_department_and_an_admin_may_write_on_the_case(
    admin, org, clock, write, who
):  # type: ignore[no-untyped-def]
    case = org["case"]
    before = _state(admin, case["id"])
    answer = WRITES[write](org["people"][who][1], case, clock)
    assert answer.status_code in (200, 201), answer.text
    assert _state(admin, case["id"]) != before


def test_a_supervisor_of_the_owners_department_counts_for_an_unattributed_case(admin, org, clock):  # type: ignore[no-untyped-def]
    case = org["case"]
    noor_api = org["people"]["noor"][1]
    assert noor_api.patch(f"/cases/{case['id']}", {"caused_by_department_id": None}).status_code == 200
    assert WRITES["reply"](org["people"]["vera"][1], case, clock).status_code == 201
    assert WRITES["reply"](org["people"]["otto"][1], case, clock).status_code == 403


@pytest.mark.parametrize("who", ["tia", "otto", "noor", "vera", "admin"])
def test_any_staff_member_may_add_an_internal_note(admin, org, who):  # type: ignore[no-untyped-def]
    case = org["case"]
    answer = org["people"][who][1].post(
        f"/cases/{case['id']}/messages", {"body": "The courier has a photo.", "visibility": "internal"}
    )
    assert answer.status_code == 201, answer.text
    notes = [e for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"] if e["kind"] == "note"]
    assert [n["text"] for n in notes] == ["The courier has a photo."]


def test_a_supervisor_of_another_department_cannot_keep_or_move_the_owners_promise(admin, org, clock):  # type: ignore[no-untyped-def]
    case = org["case"]
    made = org["people"]["noor"][1].post(
        f"/cases/{case['id']}/commitments", {"text": "Call back", "due_at": _due(clock)}
    )
    assert made.status_code == 201, made.text
    promise = made.json()["id"]
    otto = org["people"]["otto"][1]
    assert otto.post(f"/commitments/{promise}/keep").status_code == 403
    moved = otto.post(f"/commitments/{promise}/renegotiate", {"due_at": _due(clock), "note": "Later"})
    assert moved.status_code == 403
    assert org["people"]["vera"][1].post(f"/commitments/{promise}/keep").status_code == 200


def test_asking_an_expert_on_a_cases_behalf_follows_the_same_rule(admin, org, clock):  # type: ignore[no-untyped-def]
    case = org["case"]
    body = {
        "question": "Can we refund the shipping too?",
        "department_id": org["billing"]["id"],
        "due_at": _due(clock),
    }
    otto = org["people"]["otto"][1].post(f"/cases/{case['id']}/questions", body)
    assert otto.status_code == 403, otto.text
    assert admin.get(f"/cases/{case['id']}/questions").json() == []
    assert org["people"]["vera"][1].post(f"/cases/{case['id']}/questions", body).status_code == 201


# The web forms: the same rule, the error page, nothing written.
WEB_WRITES = {
    "reply": ("messages", {"body": "We'll send a new kettle.", "visibility": "customer"}),
    "promise": ("commitments", {"text": "Call back", "due_at": "2026-03-02T15:00"}),
    "attribution": ("attribute", {"caused_by_department_id": ""}),
}


@pytest.mark.parametrize("write", sorted(WEB_WRITES))
@pytest.mark.parametrize("who", ["tia", "otto"])
def test_the_case_page_forms_refuse_an_agent_non_owner_and_a_supervisor_of_another_department(
    admin, org, client, session_factory, clock, write, who
):  # type: ignore[no-untyped-def]
    case = org["case"]
    before = _state(admin, case["id"])
    csrf = web_session_for(client, session_factory, clock, f"{who}@acme.test")
    path, data = WEB_WRITES[write]
    answer = client.post(f"/cases/{case['id']}/{path}", data={"csrf": csrf, **data}, follow_redirects=False)
    assert answer.status_code == 403, answer.text
    assert "only the case owner or a supervisor of its department" in answer.text
    client.cookies.clear()
    assert _state(admin, case["id"]) == before


@pytest.mark.parametrize("write", sorted(WEB_WRITES))
@pytest.mark.parametrize("who", ["noor", "vera"])
def test_the_case_page_forms_let_the_owner_and_a_supervisor_of_the_cases_department_write(
    admin, org, client, session_factory, clock, write, who
):  # type: ignore[no-untyped-def]
    case = org["case"]
    before = _state(admin, case["id"])
    csrf = web_session_for(client, session_factory, clock, f"{who}@acme.test")
    path, data = WEB_WRITES[write]
    answer = client.post(f"/cases/{case['id']}/{path}", data={"csrf": csrf, **data}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    client.cookies.clear()
    assert _state(admin, case["id"]) != before


def test_the_case_page_lets_any_staff_member_add_an_internal_note(admin, org, client, session_factory, clock):  # type: ignore[no-untyped-def]
    case = org["case"]
    csrf = web_session_for(client, session_factory, clock, "otto@acme.test")
    answer = client.post(
        f"/cases/{case['id']}/messages",
        data={"csrf": csrf, "body": "Billing saw this before.", "visibility": "internal"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    client.cookies.clear()
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert "note" in kinds


def _offer(api, case_id, **fields):  # type: ignore[no-untyped-def]
    body = {"type": "refund", "amount": "120.00", "currency": "EUR", "note": NOTE} | fields
    return api.post(f"/cases/{case_id}/offers", body)


def test_re_attributing_a_case_does_not_move_who_decides_an_offer_made_on_it(admin, org):  # type: ignore[no-untyped-def]
    case = org["case"]
    noor_api = org["people"]["noor"][1]
    billing, shipping = org["billing"], org["shipping"]
    assert (
        noor_api.patch(f"/cases/{case['id']}", {"caused_by_department_id": billing["id"]}).status_code == 200
    )
    made = _offer(noor_api, case["id"])
    assert made.status_code == 201, made.text
    offer = made.json()
    assert offer["status"] == "pending_approval"
    # The owner, legitimately, finds Shipping broke it after all.
    moved = noor_api.patch(f"/cases/{case['id']}", {"caused_by_department_id": shipping["id"]})
    assert moved.status_code == 200 and moved.json()["caused_by_department_id"] == shipping["id"]
    sam_api, otto_api = org["people"]["sam"][1], org["people"]["otto"][1]
    assert [o["id"] for o in sam_api.get("/offers").json()["items"]] == []
    refused = sam_api.post(f"/offers/{offer['id']}/approve", {"note": "fine by Shipping"})
    assert refused.status_code == 403, refused.text
    assert admin.get(f"/offers/{offer['id']}").json()["status"] == "pending_approval"
    assert [o["id"] for o in otto_api.get("/offers").json()["items"]] == [offer["id"]]
    approved = otto_api.post(f"/offers/{offer['id']}/approve", {"note": "Billing pays"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


def test_an_offer_on_an_unattributed_case_is_decided_by_the_owners_departments_as_they_were(admin, org):  # type: ignore[no-untyped-def]
    case = org["case"]
    noor_api = org["people"]["noor"][1]
    assert noor_api.patch(f"/cases/{case['id']}", {"caused_by_department_id": None}).status_code == 200
    offer = _offer(noor_api, case["id"]).json()
    assert (
        noor_api.patch(f"/cases/{case['id']}", {"caused_by_department_id": org["billing"]["id"]}).status_code
        == 200
    )
    assert org["people"]["otto"][1].post(f"/offers/{offer['id']}/approve", {}).status_code == 403
    assert org["people"]["vera"][1].post(f"/offers/{offer['id']}/approve", {}).status_code == 200


# Authority limits: the running total per case and type, in the organisation's currency.


def test_an_authority_limit_holds_for_the_running_total_of_a_case_not_for_each_offer(admin, org):  # type: ignore[no-untyped-def]
    case = org["case"]
    noor_api = org["people"]["noor"][1]  # refund limit 50 EUR
    statuses = [_offer(noor_api, case["id"], amount="50.00").json()["status"] for _ in range(3)]
    assert statuses == ["approved", "pending_approval", "pending_approval"]
    # Another type has its own total.
    assert _offer(noor_api, case["id"], type="goodwill", amount="0.01").json()["status"] == "pending_approval"


def test_a_rejected_offer_does_not_count_against_the_limit(admin, org):  # type: ignore[no-untyped-def]
    case = org["case"]
    noor_api = org["people"]["noor"][1]
    big = _offer(noor_api, case["id"], amount="120.00").json()
    assert big["status"] == "pending_approval"
    assert (
        org["people"]["vera"][1].post(f"/offers/{big['id']}/reject", {"note": "Too much"}).status_code == 200
    )
    assert _offer(noor_api, case["id"], amount="40.00").json()["status"] == "approved"


def test_an_offer_in_another_currency_is_refused_without_a_rate(admin, org):  # type: ignore[no-untyped-def]
    case = org["case"]
    before = _state(admin, case["id"])
    answer = _offer(org["people"]["noor"][1], case["id"], amount="50.00", currency="JPY")
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "currency"
    assert "EUR" in answer.json()["error"]["message"]
    assert _state(admin, case["id"]) == before
    assert admin.get(f"/cases/{case['id']}/offers").json()["items"] == []


def test_with_a_rate_table_an_offer_in_another_currency_is_converted_for_the_limit(admin, org, settings):  # type: ignore[no-untyped-def]
    settings.currency_rates = "USD=0.92,GBP=1.17"
    case = org["case"]
    noor_api = org["people"]["noor"][1]
    # 60 USD is 55.20 EUR, above a limit of 50 EUR; 50 USD alone would have been 46.00.
    answer = _offer(noor_api, case["id"], amount="60.00", currency="USD")
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "pending_approval"
    assert answer.json()["currency"] == "USD" and answer.json()["amount"] == "60.00"
    other = admin.post(
        "/cases",
        {
            "customer": {"name": "Ida", "emails": ["ida@example.com"]},
            "body": "Late parcel",
            "kind": "complaint",
        },
    ).json()
    assert (
        admin.post(
            f"/cases/{other['id']}/transfer",
            {"to_staff_id": org["people"]["noor"][0]["id"], "handoff_note": "Yours"},
        ).status_code
        == 200
    )
    assert _offer(noor_api, other["id"], amount="50.00", currency="USD").json()["status"] == "approved"
    assert _offer(noor_api, other["id"], amount="5.00", currency="CHF").status_code == 422


def test_currency_settings_name_the_variable_on_a_bad_value():  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from ownwell.config import Settings

    with pytest.raises(ValidationError, match="OWNWELL_CURRENCY_RATES"):
        Settings(currency_rates="USD=0.92,GBP")
    with pytest.raises(ValidationError, match="OWNWELL_CURRENCY_RATES"):
        Settings(currency_rates="USD=-1")
    with pytest.raises(ValidationError, match="OWNWELL_CURRENCY must"):
        Settings(currency="euro")
    assert Settings().currency == "EUR"
    assert str(Settings(currency_rates="USD=0.92").rates()["USD"]) == "0.92"


# A customer's identifiers decide where their mail and portal links go.


def _notices(admin):  # type: ignore[no-untyped-def]
    return [m for m in admin.get("/outbox", limit=200).json()["items"] if m["kind"] == "address_changed"]


def test_an_agent_with_no_case_of_the_customer_cannot_change_their_identifiers(admin, org):  # type: ignore[no-untyped-def]
    customer_id = org["case"]["customer_id"]
    before = admin.get(f"/customers/{customer_id}").json()
    tia = org["people"]["tia"][1]
    for change in (
        {"emails": ["thief@example.net"]},
        {"phones": ["+4520000000"]},
        {"external_ids": {"shop": "9"}},
    ):
        answer = tia.patch(f"/customers/{customer_id}", change)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "forbidden"
    assert admin.get(f"/customers/{customer_id}").json() == before
    assert _notices(admin) == []
    # What is not an identifier stays open to staff.
    assert tia.patch(f"/customers/{customer_id}", {"name": "Kai Lund-Berg"}).status_code == 200


def test_the_owner_of_an_open_case_changes_an_address_on_the_record_and_the_old_address_is_told(admin, org):  # type: ignore[no-untyped-def]
    case = org["case"]
    customer_id = case["customer_id"]
    noor, noor_api = org["people"]["noor"]
    answer = noor_api.patch(f"/customers/{customer_id}", {"emails": ["kai.new@example.com"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["emails"] == ["kai.new@example.com"]
    entries = [
        e
        for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]
        if e["kind"] == "identifiers_changed"
    ]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["actor"]["id"] == noor["id"] and entry["visibility"] == "internal"
    assert "kai@example.com → kai.new@example.com" in entry["text"]
    history = admin.get(f"/customers/{customer_id}").json()["recent_timeline"]
    assert "identifiers_changed" in [e["kind"] for e in history]
    notices = _notices(admin)
    assert [(m["recipient"], m["subject"]) for m in notices] == [
        ("kai@example.com", "Your address on file was changed")
    ]
    assert "kai.new@example.com" in notices[0]["body"]
    # The same address again changes nothing and tells no one again.
    assert noor_api.patch(f"/customers/{customer_id}", {"emails": ["kai.new@example.com"]}).status_code == 200
    assert len(_notices(admin)) == 1


def test_a_supervisor_and_the_personal_contact_may_change_identifiers(admin, org):  # type: ignore[no-untyped-def]
    customer_id = org["case"]["customer_id"]
    tia, tia_api = org["people"]["tia"]
    assert (
        org["people"]["otto"][1].patch(f"/customers/{customer_id}", {"phones": ["+4520000001"]}).status_code
        == 200
    )
    assert admin.patch(f"/customers/{customer_id}", {"personal_contact_id": tia["id"]}).status_code == 200
    assert tia_api.patch(f"/customers/{customer_id}", {"phones": ["+4520000002"]}).status_code == 200


def test_a_change_to_a_customer_without_cases_is_kept_on_their_record(admin):  # type: ignore[no-untyped-def]
    customer = admin.post("/customers", {"name": "Liv", "emails": ["liv@example.com"]}).json()
    assert admin.patch(f"/customers/{customer['id']}", {"emails": ["liv@example.org"]}).status_code == 200
    facts = admin.get(f"/customers/{customer['id']}").json()["facts"]
    assert len(facts) == 1 and "liv@example.com → liv@example.org" in facts[0]["text"]
    assert facts[0]["created_by_id"] is not None
    assert [m["recipient"] for m in _notices(admin)] == ["liv@example.com"]


def test_praise_repeated_in_portal_replies_is_one_kudos_per_case_and_customer(admin, client):  # type: ignore[no-untyped-def]
    from tests.test_portal import _open, _path

    case = admin.post(
        "/cases",
        {"customer": {"name": "Rui Costa", "emails": ["rui@example.com"]}, "body": "My kettle leaks"},
    ).json()
    _, csrf = _open(client, case)
    url = _path(case["portal_url"]) + "/reply"
    for body in ("Thank you so much, that was quick!", "Thanks again, you are brilliant!"):
        assert client.post(url, data={"csrf": csrf, "body": body}).status_code == 200
    items = admin.get(f"/staff/{case['owner']['id']}/kudos").json()["items"]
    assert [k["text"] for k in items] == ["Thank you so much, that was quick!"]
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert kinds.count("kudos") == 1


def _board_row(board: str, department_id: str) -> str:
    return board.split(f'href="/departments/{department_id}"')[1].split("</tr>")[0]


def test_the_department_board_shows_error_rates_only_as_the_metrics_rules_allow(
    admin, client, session_factory, clock
):  # type: ignore[no-untyped-def]
    from ownwell.staff.models import Role
    from tests.staff_web import make_staff

    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", departments=["Shipping"])
    make_staff(
        session_factory,
        clock,
        name="Bea Super",
        email="bea@ownwell.test",
        role=Role.supervisor,
        departments=["Billing"],
    )
    departments = {d["name"]: d["id"] for d in admin.get("/departments").json()["items"]}
    shipping, billing = departments["Shipping"], departments["Billing"]
    for n in (1, 2):
        made = admin.post(
            "/orders",
            {
                "external_id": f"A-{n}",
                "customer": {"name": f"Customer {n}", "emails": [f"c{n}@example.com"]},
                "promised_by": "2026-03-10T12:00:00+00:00",
                "department_id": shipping,
            },
        )
        assert made.status_code == 201, made.text
    admin.post(
        "/cases",
        {
            "customer": {"emails": ["c1@example.com"]},
            "body": "Late parcel",
            "caused_by_department_id": shipping,
        },
    )
    clock.advance(timedelta(minutes=5))  # the board's window ends at now

    web_session_for(client, session_factory, clock, "sam@ownwell.test")
    board = client.get("/departments").text
    assert 'data-figure="open">1<' in _board_row(board, shipping)  # the board itself is open to agents
    assert 'data-figure="error-rate"' not in board and "500.0" not in board
    assert "Error rate" not in client.get(f"/departments/{shipping}").text

    web_session_for(client, session_factory, clock, "bea@ownwell.test")
    board = client.get("/departments").text
    assert 'data-figure="error-rate"' in _board_row(board, billing)
    assert 'data-figure="error-rate"' not in _board_row(board, shipping) and "500.0" not in board
    assert "Error rate" in client.get(f"/departments/{billing}").text
    assert "Error rate" not in client.get(f"/departments/{shipping}").text

    web_session_for(client, session_factory, clock, "ada@ownwell.test")
    assert "500.0" in _board_row(client.get("/departments").text, shipping)  # 1 case per 2 orders
