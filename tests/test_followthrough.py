"""P4, P5 and P9 with the clock: reminders, escalation, confirmation and the 14-day check-in."""

from __future__ import annotations

import re
from datetime import timedelta

from ownwell.worker import run_jobs


def _outbox(api, **params):
    return api.get("/outbox", limit=200, **params).json()["items"]


def _team(admin):
    care = admin.post("/departments", {"name": "Care"}).json()
    agent = admin.post(
        "/staff",
        {"name": "Noor Haddad", "email": "noor@acme.test", "role": "agent", "department_ids": [care["id"]]},
    ).json()
    boss = admin.post(
        "/staff",
        {
            "name": "Vera Boss",
            "email": "vera@acme.test",
            "role": "supervisor",
            "department_ids": [care["id"]],
        },
    ).json()
    return care, agent, boss


def test_commitment_reminder_then_overdue_escalation(admin, session_factory, clock, settings):
    care, agent, _boss = _team(admin)
    case = admin.post(
        "/cases",
        {
            "customer": {"emails": ["kai@example.com"]},
            "body": "Refund?",
            "caused_by_department_id": care["id"],
        },
    ).json()
    assert case["owner"]["id"] == agent["id"]
    due = (clock.now() + timedelta(hours=3)).isoformat()
    promise = admin.post(
        f"/cases/{case['id']}/commitments", {"text": "Confirm the refund", "due_at": due}
    ).json()

    run_jobs(session_factory, clock, settings)
    assert [m for m in _outbox(admin) if m["kind"] == "commitment_reminder"] == []  # 3 h away: too early

    clock.advance(timedelta(hours=1, minutes=30))
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    reminders = [m for m in _outbox(admin) if m["kind"] == "commitment_reminder"]
    assert [m["recipient"] for m in reminders] == ["noor@acme.test"]  # once, to the owner
    assert "Confirm the refund" in reminders[0]["subject"]

    clock.advance(timedelta(hours=2))
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    assert admin.get(f"/commitments/{promise['id']}").json()["status"] == "broken"
    escalations = [m for m in _outbox(admin) if m["kind"] == "commitment_escalation"]
    assert sorted(m["recipient"] for m in escalations) == ["noor@acme.test", "vera@acme.test"]


def test_renegotiated_promise_is_reminded_again(admin, session_factory, clock, settings):
    case = admin.post("/cases", {"customer": {"emails": ["kai@example.com"]}, "body": "Refund?"}).json()
    due = (clock.now() + timedelta(hours=1)).isoformat()
    promise = admin.post(f"/cases/{case['id']}/commitments", {"text": "Call back", "due_at": due}).json()
    run_jobs(session_factory, clock, settings)
    later = (clock.now() + timedelta(minutes=90)).isoformat()
    admin.post(f"/commitments/{promise['id']}/renegotiate", {"due_at": later, "note": "Waiting on the bank"})
    run_jobs(session_factory, clock, settings)
    assert len([m for m in _outbox(admin) if m["kind"] == "commitment_reminder"]) == 2


def test_update_due_reminder_once_per_window(admin, session_factory, clock, settings):
    _team(admin)
    case = admin.post(
        "/cases", {"customer": {"emails": ["lia@example.com"]}, "body": "Broken", "kind": "complaint"}
    ).json()
    clock.advance(timedelta(hours=22, minutes=30))  # 1.5 h before the 24 h update is due
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    reminders = [m for m in _outbox(admin) if m["kind"] == "update_reminder"]
    owner_email = admin.get(f"/staff/{case['owner']['id']}").json()["email"]
    assert [m["recipient"] for m in reminders] == [owner_email]
    # A customer-visible update opens a new window, which gets its own reminder when due.
    admin.post(f"/cases/{case['id']}/messages", {"body": "We have found the cause."})
    clock.advance(timedelta(hours=23))
    run_jobs(session_factory, clock, settings)
    assert len([m for m in _outbox(admin) if m["kind"] == "update_reminder"]) == 2


def _link(body: str) -> str:
    return re.search(r"http://ownwell\.test(/feedback/\S+)", body).group(1)


def test_confirmed_resolution_closes_the_case(admin, client, session_factory, clock, settings):
    case = admin.post("/cases", {"customer": {"emails": ["moe@example.com"]}, "body": "Login fails"}).json()
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Reset your password link."})
    message = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "resolution")
    link = _link(message["body"])
    page = client.get(link)
    assert page.status_code == 200 and "Is everything solved?" in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    refused = client.post(link.split("?")[0], data={"fixed": "yes", "source": "confirm"})
    assert refused.status_code == 403
    answer = client.post(
        link.split("?")[0], data={"csrf": csrf, "source": "confirm", "fixed": "yes", "csat": "5", "ces": "7"}
    )
    assert answer.status_code == 200 and "Thank you" in answer.text
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "closed"


def test_check_in_after_14_days_and_a_bad_answer_reopens_with_same_owner(
    admin, client, session_factory, clock, settings
):
    case = admin.post("/cases", {"customer": {"emails": ["zoe@example.com"]}, "body": "Wifi drops"}).json()
    owner = case["owner"]
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Replaced the router."})
    clock.advance(timedelta(days=13, hours=23))
    run_jobs(session_factory, clock, settings)
    assert [m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "check_in"] == []
    clock.advance(timedelta(hours=2))
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    [check_in] = [m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "check_in"]
    assert "Did it stay fixed?" in check_in["subject"]
    link = _link(check_in["body"])
    page = client.get(link)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    answer = client.post(
        link.split("?")[0],
        data={
            "csrf": csrf,
            "source": "check_in",
            "fixed": "no",
            "csat": "2",
            "ces": "3",
            "comment": "Drops daily",
        },
    )
    assert "reopened your case" in answer.text
    reopened = admin.get(f"/cases/{case['id']}").json()
    assert reopened["status"] == "open" and reopened["owner"] == owner
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert kinds[-2:] == ["feedback", "reopened"]


def test_good_check_in_answer_keeps_it_closed(admin, client, session_factory, clock, settings):
    case = admin.post("/cases", {"customer": {"emails": ["amy@example.com"]}, "body": "Late"}).json()
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Delivered."})
    clock.advance(timedelta(days=15))
    run_jobs(session_factory, clock, settings)
    [check_in] = [m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "check_in"]
    link = _link(check_in["body"])
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(link).text).group(1)
    client.post(link.split("?")[0], data={"csrf": csrf, "source": "check_in", "fixed": "yes", "csat": "4"})
    assert admin.get(f"/cases/{case['id']}").json()["status"] == "resolved"
    bad = client.get(link.replace("/feedback/", "/feedback/x"))
    assert bad.status_code == 404


def test_the_same_answer_sent_twice_counts_once(admin, client, session_factory, clock, settings):
    """A double click or a reloaded page must not count the answer twice (CSAT, kudos)."""
    case = admin.post("/cases", {"customer": {"emails": ["kai@example.com"]}, "body": "No sound"}).json()
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "New cable sent."})
    message = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "resolution")
    link = _link(message["body"])
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', client.get(link).text).group(1)
    answer = {"csrf": csrf, "source": "confirm", "fixed": "no", "csat": "4", "comment": "Thanks, great help"}
    for _ in range(2):
        assert "reopened your case" in client.post(link.split("?")[0], data=answer).text
    events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    assert [e["kind"] for e in events].count("feedback") == 1
    assert [e["kind"] for e in events].count("kudos") == 1
    # A different answer later is a new answer.
    clock.advance(timedelta(minutes=5))
    client.post(link.split("?")[0], data={**answer, "csat": "5"})
    events = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    assert [e["kind"] for e in events].count("feedback") == 2
