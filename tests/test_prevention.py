"""Prevention actions of recurring issues (P10, issue #6) as commitments owned by a person: on
the owner's agenda and My day, marked done once, reminded before due and escalated when late."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownwell.db import unit_of_work
from ownwell.insights.jobs import assign_pending
from ownwell.staff.models import Role
from ownwell.worker import run_jobs
from tests.staff_web import make_staff, web_session_for

LATE = [
    "My parcel still hasn't arrived, it was due last Tuesday.",
    "Still waiting for my delivery, the parcel is a week late.",
]
FIX = "Move Leeds deliveries to the second courier."


def _outbox(api, kind: str) -> list[dict]:
    return [m for m in api.get("/outbox", limit=200).json()["items"] if m["kind"] == kind]


@pytest.fixture
def world(admin, as_token, session_factory, clock, settings):
    """A late-parcel issue of Logistics, whose supervisor named agent Olly owner of a prevention
    action due in three days."""
    logistics = admin.post("/departments", {"name": "Logistics"}).json()["id"]

    def person(name: str, email: str, role: str) -> tuple[dict, object]:
        staff = admin.post(
            "/staff", {"name": name, "email": email, "role": role, "department_ids": [logistics]}
        ).json()
        return staff, as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"])

    sam, sam_api = person("Sam Supervisor", "sam@acme.test", "supervisor")
    olly, olly_api = person("Olly Owner", "olly@acme.test", "agent")
    _ann, ann_api = person("Ann Agent", "ann@acme.test", "agent")
    for n, body in enumerate(LATE):
        answer = admin.post(
            "/cases",
            {
                "customer": {"emails": [f"c{n}@example.com"]},
                "body": body,
                "kind": "complaint",
                "caused_by_department_id": logistics,
            },
        )
        assert answer.status_code == 201, answer.text
        case_id = answer.json()["id"]  # the newest case: the issue's audit entries go there
        clock.advance(timedelta(minutes=5))
    with unit_of_work(session_factory) as session:
        assert assign_pending(session, now=clock.now(), settings=settings) == len(LATE)
    issue_id = admin.get(f"/cases/{case_id}").json()["recurring_issue_id"]
    due = clock.now() + timedelta(days=3)
    named = sam_api.post(
        f"/insights/recurring/{issue_id}/root-cause",
        {
            "root_cause": "The Leeds depot is short of drivers.",
            "prevention": {"text": FIX, "due_at": due.isoformat(), "owner_id": olly["id"]},
        },
    )
    assert named.status_code == 200, named.text
    [action] = named.json()["prevention_actions"]
    return {
        "issue_id": issue_id,
        "case_id": case_id,
        "action": action,
        "due": due,
        "sam": sam,
        "olly": olly,
        "olly_api": olly_api,
        "ann_api": ann_api,
        "sam_api": sam_api,
    }


def _prevention_items(api) -> list[dict]:
    return [i for i in api.get("/agenda").json()["items"] if i["kind"] == "prevention"]


def test_the_owner_sees_it_on_the_agenda_and_marks_it_done_once(admin, world, clock):
    olly_api, action = world["olly_api"], world["action"]
    assert _prevention_items(olly_api) == []  # due in three days: beyond the day ahead
    clock.advance(timedelta(days=2, hours=12))
    [item] = _prevention_items(olly_api)
    assert item["prevention_id"] == action["id"] and item["recurring_issue_id"] == world["issue_id"]
    assert item["case_id"] is None and FIX in item["text"]
    assert _prevention_items(world["sam_api"]) == []  # the owner's agenda only

    assert world["ann_api"].post(f"/insights/prevention/{action['id']}/done").status_code == 403
    missing = olly_api.post("/insights/prevention/prv_00000000000000000000000000/done")
    assert missing.status_code == 404
    done = olly_api.post(f"/insights/prevention/{action['id']}/done")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["done_at"] is not None
    again = olly_api.post(f"/insights/prevention/{action['id']}/done")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_done"

    assert _prevention_items(olly_api) == []
    [shown] = admin.get(f"/insights/recurring/{world['issue_id']}").json()["prevention_actions"]
    assert shown["status"] == "done"
    timeline = admin.get(f"/cases/{world['case_id']}/timeline").json()["items"]
    assert any(e["kind"] == "prevention_done" and FIX in e["text"] for e in timeline)
    [told] = _outbox(admin, "prevention_done")  # the supervisor who named it hears of it
    assert told["recipient"] == world["sam"]["email"]


def test_a_supervisor_may_close_it_for_the_owner(world):
    done = world["sam_api"].post(f"/insights/prevention/{world['action']['id']}/done")
    assert done.status_code == 200 and done.json()["status"] == "done"


def test_reminder_before_due_and_escalation_when_overdue_each_once(
    admin, world, clock, session_factory, settings
):
    due, olly, sam = world["due"], world["olly"], world["sam"]
    clock.set(due - timedelta(minutes=settings.reminder_lead_minutes + 1))
    run_jobs(session_factory, clock, settings)
    assert _outbox(admin, "prevention_reminder") == []  # not yet within the lead

    clock.set(due - timedelta(minutes=settings.reminder_lead_minutes - 1))
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    [reminder] = _outbox(admin, "prevention_reminder")
    assert reminder["recipient"] == olly["email"] and FIX in reminder["body"]
    assert f"/insights/recurring/{world['issue_id']}" in reminder["body"]
    assert _outbox(admin, "prevention_escalation") == []

    clock.set(due + timedelta(minutes=1))
    run_jobs(session_factory, clock, settings)
    run_jobs(session_factory, clock, settings)
    escalations = _outbox(admin, "prevention_escalation")
    assert sorted(m["recipient"] for m in escalations) == sorted([olly["email"], sam["email"]])
    assert len(_outbox(admin, "prevention_reminder")) == 1
    # Done after all: nothing more goes out, and the overdue item leaves the agenda.
    assert world["olly_api"].post(f"/insights/prevention/{world['action']['id']}/done").status_code == 200
    clock.advance(timedelta(days=1))
    run_jobs(session_factory, clock, settings)
    assert len(_outbox(admin, "prevention_escalation")) == 2


def test_without_a_department_supervisor_the_admins_hear_of_it(
    admin, world, clock, session_factory, settings
):
    sam_id = world["sam"]["id"]
    assert admin.patch(f"/staff/{sam_id}", {"role": "agent"}).status_code == 200
    clock.set(world["due"] + timedelta(minutes=1))
    run_jobs(session_factory, clock, settings)
    recipients = {m["recipient"] for m in _outbox(admin, "prevention_escalation")}
    admins = {s["email"] for s in admin.get("/staff", limit=200).json()["items"] if s["role"] == "admin"}
    assert admins and recipients == {world["olly"]["email"], *admins}


def test_my_day_lists_it_with_a_link_to_the_issue_and_a_done_button(
    admin, client, world, clock, session_factory
):
    make_staff(session_factory, clock, name="Web Olly", email="webolly@acme.test", role=Role.agent)
    # Hand the action to a person who can sign in to the web app.
    clock.advance(timedelta(days=2, hours=12))
    with unit_of_work(session_factory) as session:
        from ownwell.insights import repository
        from ownwell.staff import repository as staff_repository

        person = staff_repository.staff_by_email(session, "webolly@acme.test")
        repository.get_prevention(session, world["action"]["id"]).owner_id = person.id  # type: ignore[union-attr]
    csrf = web_session_for(client, session_factory, clock, "webolly@acme.test")
    day = client.get("/")
    assert day.status_code == 200
    assert FIX in day.text and f'href="/insights/recurring/{world["issue_id"]}#cause-h"' in day.text
    action_url = f"/insights/prevention/{world['action']['id']}/done"
    assert f'action="{action_url}"' in day.text
    issue_page = client.get(f"/insights/recurring/{world['issue_id']}")
    assert issue_page.status_code == 200 and FIX in issue_page.text

    done = client.post(action_url, data={"csrf": csrf, "next": "/"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert FIX not in client.get("/").text
    [shown] = admin.get(f"/insights/recurring/{world['issue_id']}").json()["prevention_actions"]
    assert shown["status"] == "done"
