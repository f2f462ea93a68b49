"""P12 "I'll find out" through the API: a question routed to an expert as a commitment on the
case, the answer on the timeline and kept as knowledge, search, and next-issue tips."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownwell.worker import run_jobs
from tests.conftest import START


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


@pytest.fixture
def world(admin, as_token):
    care = admin.post("/departments", {"name": "Care"}).json()
    billing = admin.post("/departments", {"name": "Billing"}).json()

    def person(name: str, department: dict) -> dict:
        body = {
            "name": name,
            "email": f"{name.lower()}@acme.test",
            "role": "agent",
            "department_ids": [department["id"]],
        }
        staff = admin.post("/staff", body).json()
        staff["api"] = as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"])
        return staff

    noor, bo, cy = person("Noor", care), person("Bo", billing), person("Cy", billing)
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Rosa", "emails": ["rosa@example.com"]},
            "body": "Can you refund to my old card? It was closed last month.",
            "caused_by_department_id": care["id"],
        },
    ).json()
    assert case["owner"]["id"] == noor["id"]
    return {"care": care, "billing": billing, "noor": noor, "bo": bo, "cy": cy, "case": case}


def _ask(api, case: dict, department: dict, question: str, due: str):
    return api.post(
        f"/cases/{case['id']}/questions",
        {"question": question, "department_id": department["id"], "due_at": due},
    )


def test_a_question_becomes_the_experts_commitment_and_the_answer_knowledge(admin, world):
    noor, case = world["noor"], world["case"]
    asked = _ask(noor["api"], case, world["billing"], "Can we refund to a closed card?", at(3))
    assert asked.status_code == 201, asked.text
    question = asked.json()
    experts = {world["bo"]["id"]: world["bo"], world["cy"]["id"]: world["cy"]}
    expert = experts[question["expert"]["id"]]
    assert question["status"] == "open" and question["due_at"].startswith("2026-03-02T12:00:00")

    # The expert owes the answer: a commitment on the case, on their own agenda, and an e-mail.
    promise = admin.get(f"/commitments/{question['commitment_id']}").json()
    assert promise["owner_id"] == expert["id"] and promise["case_id"] == case["id"]
    assert promise["status"] == "open" and promise["due_at"] == question["due_at"]
    agenda = expert["api"].get("/agenda").json()["items"]
    assert [(i["kind"], i["commitment_id"]) for i in agenda] == [("commitment", promise["id"])]
    assert "closed card" in agenda[0]["text"]
    mail = [m for m in admin.get("/outbox", case_id=case["id"]).json()["items"] if m["kind"] == "question"]
    assert [m["recipient"] for m in mail] == [expert["email"]]

    # A second question goes to the other expert, who has none open yet.
    second = _ask(noor["api"], case, world["billing"], "Which bank fee applies?", at(5)).json()
    assert second["expert"]["id"] != expert["id"] and second["expert"]["id"] in experts

    # Only the expert (or a supervisor) answers.
    body = {"answer": "Yes: the bank forwards refunds to closed cards for 12 months.", "publish": True}
    assert noor["api"].post(f"/questions/{question['id']}/answer", body).status_code == 403
    answered = expert["api"].post(
        f"/questions/{question['id']}/answer",
        {**body, "title": "Refunds to closed cards", "tags": ["Refund"]},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered" and answered.json()["article_id"]
    assert admin.get(f"/commitments/{promise['id']}").json()["status"] == "kept"
    assert expert["api"].post(f"/questions/{question['id']}/answer", body).status_code == 409

    timeline = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    by_kind = {e["kind"]: e for e in timeline}
    assert by_kind["question_asked"]["visibility"] == "internal"
    assert by_kind["question_answered"]["visibility"] == "internal"
    assert "12 months" in by_kind["question_answered"]["text"]
    assert by_kind["question_answered"]["data"]["on_time"] is True
    assert "commitment_kept" in by_kind

    # Kept as knowledge, found by any word of title or body, in any case.
    for q in ("closed card", "REFUNDS", "forwards 12"):
        found = admin.get("/knowledge", q=q).json()["items"]
        assert [a["title"] for a in found] == ["Refunds to closed cards"], q
    article = found[0]
    assert article["tags"] == ["refund"] and article["source_case_id"] == case["id"]
    assert admin.get(f"/knowledge/{article['id']}").json()["body"].startswith("Yes: the bank")
    assert admin.get("/knowledge", q="mortgage").json()["items"] == []
    assert admin.get("/knowledge", q="100%").json()["items"] == []  # % is a character, not a wildcard


def test_an_answer_after_the_due_time_leaves_the_promise_broken(
    admin, world, clock, session_factory, settings
):
    question = _ask(world["noor"]["api"], world["case"], world["billing"], "Fee?", at(1)).json()
    clock.advance(timedelta(hours=2))
    run_jobs(session_factory, clock, settings)
    assert admin.get(f"/commitments/{question['commitment_id']}").json()["status"] == "broken"
    answered = admin.post(f"/questions/{question['id']}/answer", {"answer": "No fee."})  # a supervisor's word
    assert answered.status_code == 200 and answered.json()["article_id"] is None
    assert admin.get(f"/commitments/{question['commitment_id']}").json()["status"] == "broken"
    [event] = [
        e
        for e in admin.get(f"/cases/{world['case']['id']}/timeline").json()["items"]
        if e["kind"] == "question_answered"
    ]
    assert event["data"]["on_time"] is False and event["data"]["commitment_status"] == "broken"
    assert admin.get("/knowledge").json()["items"] == []  # not published


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"due_at": "2026-03-02T12:00:00"}, 422, "due_at"),
        ({"due_at": at(-1)}, 422, "due_at"),
        ({"question": "  "}, 422, "question"),
        ({"department_id": "dep_" + "0" * 27}, 404, "department_id"),
        ({"department_id": "care"}, 409, "department_id"),  # Noor is the only one in Care
    ],
)
def test_bad_questions_are_refused_naming_the_field(admin, world, change, status, field):
    body = {"question": "Fee?", "department_id": world["billing"]["id"], "due_at": at(2), **change}
    if body["department_id"] == "care":
        body["department_id"] = world["care"]["id"]
    response = world["noor"]["api"].post(f"/cases/{world['case']['id']}/questions", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert admin.get(f"/cases/{world['case']['id']}/commitments").json() == []  # nothing half-written


def test_only_the_owner_or_a_supervisor_asks_on_a_case(world):
    refused = _ask(world["bo"]["api"], world["case"], world["billing"], "Fee?", at(2))
    assert refused.status_code == 403


def test_next_issue_tips_per_recurring_issue(admin, world, recurring_issue):
    lockers, other = recurring_issue("Parcel lockers"), recurring_issue("Refunds")
    tip = {"recurring_issue_id": lockers, "text": "Choose home delivery for parcels over 20 kg."}
    assert world["noor"]["api"].post("/knowledge/tips", tip).status_code == 403
    created = admin.post("/knowledge/tips", tip)
    assert created.status_code == 201, created.text
    listed = admin.get("/knowledge/tips", recurring_issue_id=lockers).json()["items"]
    assert [t["text"] for t in listed] == [tip["text"]]
    assert admin.get("/knowledge/tips", recurring_issue_id=other).json()["items"] == []
    # A tip for an issue that does not exist would never be suggested: refused, field named.
    unknown = admin.post("/knowledge/tips", {**tip, "recurring_issue_id": "rci_01ARZ3NDEKTSV4RRFFQ69G5FAV"})
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "recurring_issue_id"
    missing = admin.get("/knowledge/tips")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "recurring_issue_id"
