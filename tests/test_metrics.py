"""GET /api/v1/metrics against one small, clock-driven story built through the API. Every
expected figure is worked out by hand in the comments next to it.

The story (T = Monday 2 March 2026 09:00 UTC; complaints and questions both have a 24 h cadence):
  T+0h   Shipping takes orders A-1 (Rosa), A-2 (Omar), A-3 and A-4 (Lin). A-1 reports an
         exception: proactive case P (Rosa, Shipping, owner Sam). Window P1 due T+24h.
  T+1h   Omar writes about A-2: case C1 (Shipping, Sam). Window due T+25h.
  T+2h   Lin asks Billing a question: case C2 (Billing, Bea). Window due T+26h.
         Bea promises K3 on C2, due T+12h.
  T+3h   Sam replies on C1 (first response 2 h; window closed on time, next due T+27h).
  T+4h   Sam promises K1 on C1, due T+6h; keeps it at T+5h (on time).
  T+5h   Sam promises K2 on P, due T+8h; nobody keeps it: the T+10h sweep marks it broken.
  T+11h  K3 renegotiated to T+20h; kept at T+19h (on time, by the agreed time).
  T+26h  Sam writes on P (P1 was due T+24h: late; next due T+50h) and resolves C1 (on time).
  T+27h  Bea answers C2 (first response 25 h; window due T+26h: late; next due T+51h).
         Omar confirms C1 resolved: CSAT 4, CES 5 (C1 closes).
  T+28h  Bea resolves C2 (on time).
  T+30h  A-1 is delivered: P resolves itself (on time).
  T+48h  Omar writes again about A-2: case C3 (a repeat contact within 7 days of C1).
  T+49h  Sam replies on C3 (first response 1 h; next due T+73h, never met: late).
  T+30h+14d  Check-ins go out. Rosa (P): fixed, CSAT 5, CES 6. Lin (C2): not fixed, CSAT 2,
         CES 2 -> C2 reopens with Bea.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ownwell.worker import run_jobs
from tests.conftest import START

H = timedelta(hours=1)
FAR = (START + timedelta(days=30)).isoformat()  # no order is late within the story


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


def _link(api, case_id: str, kind: str) -> str:
    [message] = [m for m in api.get("/outbox", case_id=case_id).json()["items"] if m["kind"] == kind]
    return re.search(r"http://ownwell\.test(/feedback/\S+)", message["body"]).group(1)


def _answer(client, link: str, **form: str) -> None:
    page = client.get(link)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    answer = client.post(link.split("?")[0], data={"csrf": csrf, **form})
    assert answer.status_code == 200, answer.text


def _move_to(clock, hours: float) -> None:
    clock.advance(START + timedelta(hours=hours) - clock.now())


@pytest.fixture
def story(admin, client, clock, session_factory, settings, as_token):
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    billing = admin.post("/departments", {"name": "Billing"}).json()

    def staff(name: str, role: str, department: dict) -> dict:
        email = f"{name.lower()}@acme.test"
        body = {"name": name, "email": email, "role": role, "department_ids": [department["id"]]}
        return admin.post("/staff", body).json()

    sam = staff("Sam", "agent", shipping)
    staff("Bea", "agent", billing)
    vera = staff("Vera", "supervisor", shipping)
    customers = {
        name: admin.post("/customers", {"name": name, "emails": [f"{name.lower()}@example.com"]}).json()
        for name in ("Rosa", "Omar", "Lin")
    }
    orders = {}
    for ref, name in (("A-1", "Rosa"), ("A-2", "Omar"), ("A-3", "Lin"), ("A-4", "Lin")):
        body = {
            "external_id": ref,
            "customer_id": customers[name]["id"],
            "promised_by": FAR,
            "department_id": shipping["id"],
        }
        orders[ref] = admin.post("/orders", body).json()

    def event(ref: str, type_: str) -> None:
        response = admin.post(
            f"/orders/{orders[ref]['id']}/events", {"type": type_, "occurred_at": clock.now().isoformat()}
        )
        assert response.status_code in (200, 201), response.text

    def open_case(name: str, department: dict, kind: str, order: str | None = None) -> dict:
        body = {
            "customer_id": customers[name]["id"],
            "body": f"{name} writes",
            "kind": kind,
            "caused_by_department_id": department["id"],
            "order_id": orders[order]["id"] if order else None,
        }
        response = admin.post("/cases", body)
        assert response.status_code == 201, response.text
        return response.json()

    def say(case: dict, text: str = "Here is where we are.") -> None:
        assert admin.post(f"/cases/{case['id']}/messages", {"body": text}).status_code == 201

    def promise(case: dict, due_hours: float) -> dict:
        return admin.post(
            f"/cases/{case['id']}/commitments", {"text": "Call back", "due_at": at(due_hours)}
        ).json()

    event("A-1", "exception")
    [p] = admin.get("/cases", proactive=True).json()["items"]
    _move_to(clock, 1)
    c1 = open_case("Omar", shipping, "complaint", order="A-2")
    _move_to(clock, 2)
    c2 = open_case("Lin", billing, "question")
    k3 = promise(c2, 12)
    _move_to(clock, 3)
    say(c1)
    _move_to(clock, 4)
    k1 = promise(c1, 6)
    _move_to(clock, 5)
    admin.post(f"/commitments/{k1['id']}/keep")
    promise(p, 8)
    _move_to(clock, 10)
    run_jobs(session_factory, clock, settings)  # K2 (due T+8h) is broken
    _move_to(clock, 11)
    admin.post(f"/commitments/{k3['id']}/renegotiate", {"due_at": at(20), "note": "Bank is slow"})
    _move_to(clock, 19)
    assert admin.post(f"/commitments/{k3['id']}/keep").json()["status"] == "kept"
    _move_to(clock, 26)
    say(p)
    admin.post(f"/cases/{c1['id']}/resolve", {"summary": "Reshipped."})
    _move_to(clock, 27)
    say(c2)
    _answer(client, _link(admin, c1["id"], "resolution"), source="confirm", fixed="yes", csat="4", ces="5")
    _move_to(clock, 28)
    admin.post(f"/cases/{c2['id']}/resolve", {"summary": "Refunded."})
    _move_to(clock, 30)
    event("A-1", "delivered")
    assert admin.get(f"/cases/{p['id']}").json()["status"] == "resolved"
    _move_to(clock, 48)
    c3 = open_case("Omar", shipping, "complaint", order="A-2")
    _move_to(clock, 49)
    say(c3)
    _move_to(clock, 30 + 14 * 24)
    run_jobs(session_factory, clock, settings)  # the check-ins go out
    _answer(client, _link(admin, p["id"], "check_in"), source="check_in", fixed="yes", csat="5", ces="6")
    _answer(client, _link(admin, c2["id"], "check_in"), source="check_in", fixed="no", csat="2", ces="2")
    assert admin.get(f"/cases/{c2['id']}").json()["status"] == "open"
    clock.advance(H)  # periods end before `until` (default now): look an hour later
    return {
        "shipping": shipping,
        "billing": billing,
        "customers": customers,
        "vera": as_token(admin.post(f"/staff/{vera['id']}/tokens").json()["token"]),
        "sam": as_token(admin.post(f"/staff/{sam['id']}/tokens").json()["token"]),
    }


def test_every_metric_over_the_whole_story(admin, story):
    m = admin.get("/metrics").json()
    # Cases about an order: P (we spoke first), C1 and C3 (Omar spoke first) -> 1/3.
    assert m["proactive_ratio"] == {"value": 0.3333, "numerator": 1, "denominator": 3}
    # Due in the period: K1 kept on time, K2 broken, K3 kept by its renegotiated time -> 2/3.
    assert m["promise_kept_rate"] == {
        "value": 0.6667,
        "numerator": 2,
        "denominator": 3,
        "kept_late": 0,
        "broken": 1,
        "pending": 0,
        "renegotiated": 1,
    }
    # Windows: P1 late, P2 on time (resolved), C1 two on time, C2-1 late, C2-2 on time,
    # C3-1 on time, C3-2 late (due T+73h, nothing sent); C2's window since the reopen is not
    # due yet -> 5 on time of 8 = 0.625.
    assert m["update_on_time_rate"] == {"value": 0.625, "numerator": 5, "denominator": 8}
    # First responses: C3 1 h, C1 2 h, C2 25 h (P is ours: nobody waited). Nearest rank:
    # p50 = 2nd of 3 = 7,200 s; p90 = 3rd of 3 = 90,000 s.
    assert m["first_response_time"] == {
        "p50_seconds": 7200.0,
        "p90_seconds": 90000.0,
        "count": 3,
        "unanswered": 0,
    }
    # Resolved now: C1 after 25 h (90,000 s), P after 30 h (108,000 s); C2 was reopened.
    assert m["time_to_resolution"] == {"p50_seconds": 90000.0, "p90_seconds": 108000.0, "count": 2}
    # Resolutions C1, C2, P; Omar came back about A-2 22 h after C1 -> 1/3.
    assert m["repeat_contact_rate"] == {"value": 0.3333, "numerator": 1, "denominator": 3}
    # Of the same three resolutions C2 was reopened -> 1/3.
    assert m["reopen_rate"] == {"value": 0.3333, "numerator": 1, "denominator": 3}
    # Check-ins answered: P fixed, C2 not fixed -> 1/2.
    assert m["follow_up_success_rate"] == {
        "value": 0.5,
        "numerator": 1,
        "denominator": 2,
        "not_fixed": 1,
        "no_answer_on_fixed": 0,
    }
    # CSAT (4 + 5 + 2) / 3 = 3.67; CES (5 + 6 + 2) / 3 = 4.33.
    assert m["csat"] == {"mean": 3.67, "count": 3}
    assert m["ces"] == {"mean": 4.33, "count": 3}
    # Billing caused C2 and handled no order; Shipping caused P, C1, C3 over 4 orders: 750.
    assert [
        (d["name"], d["cases"], d["orders"], d["per_1000_orders"]) for d in m["department_error_rate"]
    ] == [
        ("Billing", 1, 0, None),
        ("Shipping", 3, 4, 750.0),
    ]
    # Weights open 2, broken 3, late 1, repeat 2, low 3.
    # Lin: C2 open again (2) + C2-1 late (1) + CSAT 2 (3) = 6
    # Omar: C3 open (2) + C3-2 late (1) + repeat (2) = 5
    # Rosa: K2 broken (3) + P1 late (1) = 4
    risk = m["disloyalty_risk"]
    assert risk["weights"] == {
        "open_problems": 2,
        "broken_commitments": 3,
        "late_updates": 1,
        "repeat_contacts": 2,
        "low_scores": 3,
    }
    assert [(i["name"], i["score"], i["parts"]) for i in risk["items"]] == [
        (
            "Lin",
            6,
            {
                "open_problems": 1,
                "broken_commitments": 0,
                "late_updates": 1,
                "repeat_contacts": 0,
                "low_scores": 1,
            },
        ),
        (
            "Omar",
            5,
            {
                "open_problems": 1,
                "broken_commitments": 0,
                "late_updates": 1,
                "repeat_contacts": 1,
                "low_scores": 0,
            },
        ),
        (
            "Rosa",
            4,
            {
                "open_problems": 0,
                "broken_commitments": 1,
                "late_updates": 1,
                "repeat_contacts": 0,
                "low_scores": 0,
            },
        ),
    ]


def test_periods_departments_and_who_may_read(admin, story):
    # One story, several views of it (building the story is the slow part).
    _until_cuts_the_story_at_the_end_of_the_first_day(admin)
    _since_leaves_out_what_came_before(admin)
    _one_department(admin, story)
    _supervisors_see_their_department_agents_nothing(story)


def _until_cuts_the_story_at_the_end_of_the_first_day(admin):
    m = admin.get("/metrics", until=at(24)).json()
    assert m["until"].startswith("2026-03-03T09:00:00")
    # Order cases opened before T+24h: P and C1 -> 1/2.
    assert m["proactive_ratio"] == {"value": 0.5, "numerator": 1, "denominator": 2}
    # Only C1's first window was decided by then (on time); P1 is due exactly at T+24h.
    assert m["update_on_time_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    # C2 was answered only at T+27h: still waiting at T+24h.
    assert m["first_response_time"] == {
        "p50_seconds": 7200.0,
        "p90_seconds": 7200.0,
        "count": 1,
        "unanswered": 1,
    }
    # Nothing resolved or rated yet: null, never a division by zero.
    assert m["time_to_resolution"] == {"p50_seconds": None, "p90_seconds": None, "count": 0}
    assert m["reopen_rate"] == {"value": None, "numerator": 0, "denominator": 0}
    assert m["repeat_contact_rate"]["value"] is None
    assert m["follow_up_success_rate"]["value"] is None
    assert m["csat"] == {"mean": None, "count": 0}
    # Shipping: P and C1 over 4 orders = 500 per 1,000.
    assert m["department_error_rate"][1]["per_1000_orders"] == 500.0


def _since_leaves_out_what_came_before(admin):
    m = admin.get("/metrics", since=at(40)).json()
    # Only C3 is an order case opened after T+40h, and Omar spoke first -> 0/1.
    assert m["proactive_ratio"] == {"value": 0.0, "numerator": 0, "denominator": 1}
    # No commitment was due after T+40h.
    assert m["promise_kept_rate"]["value"] is None
    # Windows decided after T+40h: C3-1 on time, C3-2 late -> 1/2.
    assert m["update_on_time_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}


def _one_department(admin, story):
    m = admin.get("/metrics", department_id=story["billing"]["id"]).json()
    assert m["department_id"] == story["billing"]["id"]
    # Billing's only case, C2, is about no order.
    assert m["proactive_ratio"]["value"] is None
    assert m["promise_kept_rate"]["numerator"] == 1 and m["promise_kept_rate"]["denominator"] == 1  # K3
    assert m["update_on_time_rate"] == {"value": 0.5, "numerator": 1, "denominator": 2}  # C2-1 late
    assert m["first_response_time"]["p50_seconds"] == 90000.0
    assert m["reopen_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    assert m["follow_up_success_rate"]["value"] == 0.0
    assert m["csat"] == {"mean": 2.0, "count": 1}
    assert [d["name"] for d in m["department_error_rate"]] == ["Billing"]
    assert [(i["name"], i["score"]) for i in m["disloyalty_risk"]["items"]] == [("Lin", 6)]


def _supervisors_see_their_department_agents_nothing(story):
    vera, sam = story["vera"], story["sam"]
    mine = vera.get("/metrics", department_id=story["shipping"]["id"])
    assert mine.status_code == 200
    # Shipping's order cases are all the order cases: 1/3; its promises K1 kept, K2 broken.
    assert mine.json()["proactive_ratio"]["value"] == 0.3333
    assert mine.json()["promise_kept_rate"]["value"] == 0.5
    for params in ({}, {"department_id": story["billing"]["id"]}):
        refused = vera.get("/metrics", **params)
        assert refused.status_code == 403 and refused.json()["error"]["field"] == "department_id"
    assert sam.get("/metrics", department_id=story["shipping"]["id"]).status_code == 403


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"since": "2026-03-01T09:00:00"}, 422, "since"),
        ({"until": "yesterday"}, 422, "until"),
        ({"since": "2026-03-02T09:00:00Z", "until": "2026-03-01T09:00:00Z"}, 422, "since"),
        ({"since": "2024-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, 422, "since"),
        ({"department_id": "dep_" + "0" * 27}, 404, "department_id"),
        ({"risk_limit": 0}, 422, "risk_limit"),
    ],
)
def test_bad_input_names_the_field(admin, params, status, field):
    response = admin.get("/metrics", **params)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field


def test_an_empty_organisation_has_no_figures_only_nulls(admin):
    m = admin.get("/metrics").json()
    rates = (
        "proactive_ratio",
        "promise_kept_rate",
        "update_on_time_rate",
        "repeat_contact_rate",
        "reopen_rate",
    )
    assert all(m[name]["value"] is None and m[name]["denominator"] == 0 for name in rates)
    assert m["csat"]["mean"] is None and m["disloyalty_risk"]["items"] == []


def test_an_incident_case_is_proactive_when_our_notice_reached_the_customer_first(
    admin, gateway, clock, session_factory, settings
):
    ops = admin.post("/departments", {"name": "Operations"}).json()
    ida = admin.post(
        "/staff", {"name": "Ida", "email": "ida@acme.test", "role": "agent", "department_ids": [ops["id"]]}
    ).json()
    kim, max_ = (
        admin.post("/customers", {"name": name, "emails": [f"{name}@example.com"]}).json()
        for name in ("kim", "max")
    )
    incident = admin.post(
        "/incidents",
        {
            "title": "Payments down",
            "caused_by_department_id": ops["id"],
            "owner_id": ida["id"],
            "customer_ids": [kim["id"], max_["id"]],
            "message": "Card payments fail; we are on it.",
        },
    ).json()
    clock.advance(timedelta(minutes=1))
    # Kim writes before the worker has sent the notice; Max after it reached him.
    reply = {"customer_id": kim["id"], "body": "My card was refused!"}
    assert gateway.post(f"/incidents/{incident['id']}/replies", reply).status_code == 201
    clock.advance(timedelta(minutes=1))
    run_jobs(session_factory, clock, settings)
    clock.advance(timedelta(minutes=1))
    reply = {"customer_id": max_["id"], "body": "Thanks, when is it fixed?"}
    assert gateway.post(f"/incidents/{incident['id']}/replies", reply).status_code == 201
    clock.advance(timedelta(minutes=1))
    # Two incident cases; only Max heard from us first -> 1/2.
    m = admin.get("/metrics").json()
    assert m["proactive_ratio"] == {"value": 0.5, "numerator": 1, "denominator": 2}
