"""The case page's forms over HTTP: they call the same services as the API, refuse bad input
with a 4xx naming the field (the page again, with what was typed), and write nothing then."""

from __future__ import annotations

from ownwell.db import unit_of_work
from ownwell.feedback.models import KudosSource
from ownwell.feedback.service import record_kudos
from ownwell.staff.models import Role
from tests.staff_web import make_staff, web_session_for


def _case(admin, subject: str = "Broken lamp", body: str = "The lamp arrived broken."):  # type: ignore[no-untyped-def]
    answer = admin.post(
        "/cases",
        {
            "customer": {"name": "Mia Jensen", "emails": ["mia@example.com"]},
            "subject": subject,
            "body": body,
            "channel": "email",
            "kind": "complaint",
        },
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _events(admin, case_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["kind"] for e in admin.get(f"/cases/{case_id}/timeline").json()["items"]]


def test_case_page_needs_sign_in_and_comes_back(client, admin):
    case = _case(admin)
    answer = client.get(f"/cases/{case['id']}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/cases/{case['id']}"


def test_links_in_staff_notices_lead_to_the_case_page(client, admin):
    case = _case(admin)
    answer = client.get(f"/app/cases/{case['id']}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/cases/{case['id']}"


def test_fair_solution_is_shown_beside_the_offer_form(client, admin, session_factory, clock):
    from ownwell.cases import repository as case_repository
    from ownwell.customers import repository as customer_repository
    from ownwell.portal.service import propose_fair_solution

    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)
    with unit_of_work(session_factory) as session:
        propose_fair_solution(
            session,
            case=case_repository.get(session, case["id"]),
            customer=customer_repository.get(session, case["customer_id"]),
            text="Half the price back would be fair <i>enough</i>",
            now=clock.now(),
            settings=admin.client.app.state.settings,
        )
    web_session_for(client, session_factory, clock, "sam@ownwell.test")
    page = client.get(f"/cases/{case['id']}").text
    offers = page.split('id="offers"')[1].split("</section>")[0]
    assert "The customer's fair solution" in offers
    assert "Half the price back would be fair &lt;i&gt;enough&lt;/i&gt;" in offers


def test_unknown_case_is_a_404_page(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    web_session_for(client, session_factory, clock, "sam@ownwell.test")
    answer = client.get("/cases/cas_nope")
    assert answer.status_code == 404 and "no case" in answer.text


def test_reply_and_note_reach_the_timeline_and_the_outbox(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    url = f"/cases/{case['id']}/messages"
    reply = client.post(url, data={"csrf": csrf, "body": "On it, Mia.", "visibility": "customer"})
    assert reply.status_code == 200 and "Your reply is on its way" in reply.text
    note = client.post(url, data={"csrf": csrf, "body": "Check the courier", "visibility": "internal"})
    assert "Internal note saved" in note.text
    assert _events(admin, case["id"])[-2:] == ["message_out", "note"]
    outbox = admin.get("/outbox", case_id=case["id"]).json()["items"]
    assert any("On it, Mia." in str(m) or m["subject"].startswith("Re:") for m in outbox)


def test_refused_forms_name_the_field_keep_the_text_and_write_nothing(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    before = _events(admin, case["id"])
    cases = [
        ("resolve", {"summary": "  ", "next_issue_tip": "keep me"}, 422, "resolve-summary-error", "keep me"),
        (
            "commitments",
            {"text": "Call back", "due_at": "2020-01-01T10:00"},
            422,
            "commitment-due_at-error",
            "Call back",
        ),
        (
            "commitments",
            {"text": "Call back", "due_at": "tomorrow"},
            422,
            "commitment-due_at-error",
            "Call back",
        ),
        (
            "transfer",
            {"to_staff_id": "", "handoff_note": "Over to you"},
            422,
            "transfer-to_staff_id-error",
            "Over to you",
        ),
        ("transfer", {"to_staff_id": "stf_x", "handoff_note": ""}, 422, "transfer-handoff_note-error", ""),
        (
            "offers",
            {"type": "refund", "amount": "-5", "currency": "EUR", "note": "why"},
            422,
            "offer-amount-error",
            "why",
        ),
        (
            "offers",
            {"type": "hug", "amount": "5", "currency": "EUR", "note": "why"},
            422,
            "offer-type-error",
            "why",
        ),
        (
            "offers",
            {"type": "refund", "amount": "5", "currency": "eur", "note": "why"},
            422,
            "offer-currency-error",
            "why",
        ),
        (
            "attribute",
            {"caused_by_department_id": "dep_nope"},
            422,
            "attribute-caused_by_department_id-error",
            "",
        ),
        ("reopen", {"reason": "again"}, 409, None, "is open, not resolved"),
        ("messages", {"body": "x" * 20_001, "visibility": "customer"}, 422, "message-body-error", ""),
    ]
    for path, data, status, error_id, kept in cases:
        answer = client.post(f"/cases/{case['id']}/{path}", data={"csrf": csrf, **data})
        assert answer.status_code == status, (path, data, answer.status_code, answer.text[:500])
        if error_id:
            assert f'id="{error_id}"' in answer.text, (path, data)
        else:
            assert 'class="error-box" role="alert"' in answer.text, (path, data)
        assert kept in answer.text
    assert _events(admin, case["id"]) == before
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "open"


def test_an_agent_may_not_resolve_someone_elses_case(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)  # Sam owns it (the only agent)
    make_staff(session_factory, clock, name="Tia Agent", email="tia@ownwell.test")
    csrf = web_session_for(client, session_factory, clock, "tia@ownwell.test")
    answer = client.post(f"/cases/{case['id']}/resolve", data={"csrf": csrf, "summary": "Done"})
    assert answer.status_code == 403 and "only the case owner or a supervisor" in answer.text
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "open"


def test_offer_within_authority_applies_at_once(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", authority={"goodwill": 25})
    case = _case(admin)
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    answer = client.post(
        f"/cases/{case['id']}/offers",
        data={"csrf": csrf, "type": "goodwill", "amount": "12,50", "currency": "EUR", "note": "Sorry"},
    )
    assert answer.status_code == 200 and "Offer applied" in answer.text
    offers = admin.get(f"/cases/{case['id']}/offers").json()["items"]
    assert [(o["status"], o["amount"]) for o in offers] == [("approved", "12.50")]


def test_renegotiate_and_keep_a_promise(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    made = client.post(
        f"/cases/{case['id']}/commitments",
        data={"csrf": csrf, "text": "Call back", "due_at": "2026-03-02T15:00"},
    )
    assert made.status_code == 200 and "Promise made" in made.text
    commitment = admin.get(f"/cases/{case['id']}/commitments").json()[0]
    assert commitment["due_at"].startswith("2026-03-02T15:00")
    moved = client.post(
        f"/cases/{case['id']}/commitments/{commitment['id']}/renegotiate",
        data={"csrf": csrf, "due_at": "2026-03-03T10:00", "note": "The courier answers tomorrow."},
    )
    assert "new date" in moved.text
    kept = client.post(f"/commitments/{commitment['id']}/keep", data={"csrf": csrf})
    assert "Promise marked as kept" in kept.text
    assert admin.get(f"/cases/{case['id']}/commitments").json()[0]["status"] == "kept"


def test_live_fragment_is_empty_until_someone_else_changes_the_case(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)
    web_session_for(client, session_factory, clock, "sam@ownwell.test")
    page = client.get(f"/cases/{case['id']}").text
    stamp = page.split(f"/cases/{case['id']}/live?v=")[1].split('"')[0]
    assert client.get(f"/cases/{case['id']}/live?v={stamp}").status_code == 204
    admin.post(f"/cases/{case['id']}/messages", {"body": "Courier says Friday", "visibility": "internal"})
    changed = client.get(f"/cases/{case['id']}/live?v={stamp}")
    assert changed.status_code == 200
    assert "Courier says Friday" in changed.text and 'hx-swap-oob="true"' in changed.text
    assert "Ada Admin added an internal note" in changed.text


def test_search_finds_cases_by_identifier_words_and_order(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin, subject="Broken lamp", body="Shattered glass everywhere 100%")
    _case(admin, subject="Invoice question", body="Wrong VAT")
    web_session_for(client, session_factory, clock, "sam@ownwell.test")
    for query in ("MIA@example.com", "shattered GLASS", "100%", case["id"], "Mia Jen"):
        found = client.get("/cases", params={"q": query}).text
        assert f'href="/cases/{case["id"]}"' in found, query
    assert "Broken lamp" not in client.get("/cases", params={"q": "VAT"}).text
    assert "Broken lamp" not in client.get("/cases", params={"q": "_"}).text  # LIKE wildcards are literal
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "done"})
    assert "Broken lamp" not in client.get("/cases", params={"q": "shattered"}).text  # open only
    assert "Broken lamp" in client.get("/cases", params={"q": "shattered", "scope": "all"}).text


def test_customer_360_and_facts(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    case = _case(admin)
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    url = f"/customers/{case['customer_id']}"
    empty = client.post(f"{url}/facts", data={"csrf": csrf, "text": " "})
    assert empty.status_code == 422 and 'id="text-error"' in empty.text
    saved = client.post(f"{url}/facts", data={"csrf": csrf, "text": "Leave parcels with no. 12"})
    assert saved.status_code == 200 and "Leave parcels with no. 12" in saved.text
    assert [f["text"] for f in admin.get(url).json()["facts"]] == ["Leave parcels with no. 12"]
    listed = client.get("/customers", params={"q": "mia@EXAMPLE.com"}).text
    assert f'href="{url}"' in listed
    assert "Broken lamp" in client.get(url).text


def test_my_day_shows_kudos_and_approvals(client, admin, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", departments=["Shipping"])
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Shipping"],
    )
    case = _case(admin)
    from ownwell.cases import repository as case_repository
    from ownwell.customers import repository as customer_repository

    with unit_of_work(session_factory) as session:
        stored = case_repository.get(session, case["id"])
        customer = customer_repository.get(session, case["customer_id"])
        record_kudos(
            session,
            case=stored,
            customer=customer,
            text="Sam was wonderful",
            source=KudosSource.message,
            now=clock.now(),
        )
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    assert "Sam was wonderful" in client.get("/").text
    client.post(
        f"/cases/{case['id']}/offers",
        data={"csrf": csrf, "type": "refund", "amount": "40", "currency": "EUR", "note": "Fair"},
    )
    client.cookies.clear()
    web_session_for(client, session_factory, clock, "sue@ownwell.test")
    day = client.get("/").text
    assert "Approve or reject a refund of 40.00 EUR" in day and f"/cases/{case['id']}#offers" in day
