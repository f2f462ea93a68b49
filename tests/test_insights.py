"""Recurring issues (P10): cases matched from the customer's words, spikes alerted once,
supervisors merging, splitting and naming root causes, and the batch rebuild."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ownwell.db import unit_of_work
from ownwell.insights.jobs import assign_pending

LATE_PARCEL = [
    "My parcel still hasn't arrived, it was due last Tuesday.",
    "Still waiting for my delivery, the parcel is a week late.",
    "My parcel has not been delivered yet and it is late.",
    "The delivery of my package is late, it has not arrived.",
    "My parcel is late and still has not arrived.",
]
CHARGED_TWICE = [
    "I was charged twice for the same order on my credit card.",
    "You took the payment two times from my card for one order.",
]
PASSWORD = "How do I change the password for my account?"


def open_case(api, body: str, n: int, department_id: str | None = None) -> dict:
    payload = {
        "customer": {"name": f"Customer {n}", "emails": [f"customer{n}@example.com"]},
        "body": body,
        "kind": "complaint",
    }
    if department_id:
        payload["caused_by_department_id"] = department_id
    response = api.post("/cases", payload)
    assert response.status_code == 201, response.text
    return response.json()


def match(session_factory, clock, settings) -> int:
    with unit_of_work(session_factory) as session:
        return assign_pending(session, now=clock.now(), settings=settings)


def issue_of(api, case_id: str) -> str:
    issue_id = api.get(f"/cases/{case_id}").json()["recurring_issue_id"]
    assert issue_id, "the case has no recurring issue"
    return issue_id


@pytest.fixture
def supervisor(admin, as_token):
    staff = admin.post(
        "/staff", {"name": "Sam Supervisor", "email": "sam@acme.test", "role": "supervisor"}
    ).json()
    return as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"]), staff


@pytest.fixture
def agent(admin, as_token):
    staff = admin.post("/staff", {"name": "Ann Agent", "email": "ann@acme.test", "role": "agent"}).json()
    return as_token(admin.post(f"/staff/{staff['id']}/tokens").json()["token"])


@pytest.fixture
def complaints(admin, session_factory, clock, settings):
    """Five late-parcel complaints, two double charges and a password question, matched."""
    cases = {"late": [], "charged": [], "password": []}
    n = 0
    for key, bodies in (("late", LATE_PARCEL), ("charged", CHARGED_TWICE), ("password", [PASSWORD])):
        for body in bodies:
            n += 1
            cases[key].append(open_case(admin, body, n))
            clock.advance(timedelta(minutes=5))
    assert all(c["recurring_issue_id"] is None for group in cases.values() for c in group)
    assert match(session_factory, clock, settings) == n
    return cases


def test_similar_complaints_share_an_issue_and_different_ones_do_not(admin, complaints):
    late = {issue_of(admin, c["id"]) for c in complaints["late"]}
    charged = {issue_of(admin, c["id"]) for c in complaints["charged"]}
    password = issue_of(admin, complaints["password"][0]["id"])
    assert len(late) == 1 and len(charged) == 1
    assert len(late | charged | {password}) == 3

    issue = admin.get(f"/insights/recurring/{late.pop()}").json()
    assert issue["case_count"] == 5
    assert issue["label"] == LATE_PARCEL[0]
    assert set(issue["example_case_ids"]) == {c["id"] for c in complaints["late"]}
    assert issue["trend"]["last_24h"] == 5 and sum(issue["trend"]["daily"]) == 5
    assert issue["first_seen"] < issue["last_seen"]

    listed = admin.get("/insights/recurring").json()
    assert {i["case_count"] for i in listed["items"]} == {5, 2, 1}
    timeline = admin.get(f"/cases/{complaints['late'][1]['id']}/timeline").json()
    matched = [e for e in timeline["items"] if e["kind"] == "recurring_issue_matched"]
    assert matched and matched[0]["visibility"] == "internal"


def test_matching_twice_changes_nothing(admin, complaints, session_factory, clock, settings):
    before = admin.get("/insights/recurring").json()["items"]
    assert match(session_factory, clock, settings) == 0
    assert admin.get("/insights/recurring").json()["items"] == before


def test_since_filters_and_bad_since_names_the_field(admin, complaints, clock):
    later = (clock.now() + timedelta(hours=1)).isoformat()
    assert admin.get("/insights/recurring", since=later).json()["items"] == []
    refused = admin.get("/insights/recurring", since="2026-03-02T09:00:00")
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "since"
    missing = admin.get("/insights/recurring/rci_nope")
    assert missing.status_code == 404


def test_a_spike_alerts_the_department_once(admin, session_factory, clock, settings):
    billing = admin.post("/departments", {"name": "Shipping"}).json()
    boss = admin.post(
        "/staff",
        {
            "name": "Bea Boss",
            "email": "bea@acme.test",
            "role": "supervisor",
            "department_ids": [billing["id"]],
        },
    ).json()
    bodies = [*LATE_PARCEL, "My parcel is a week late and has still not arrived."] * 2
    for n, body in enumerate(bodies):
        open_case(admin, body, n, department_id=billing["id"])
        clock.advance(timedelta(minutes=10))
        match(session_factory, clock, settings)
    alerts = [m for m in admin.get("/outbox").json()["items"] if m["recipient"] == boss["email"]]
    assert len(alerts) == 1, alerts
    assert "Spike" in alerts[0]["subject"]
    issue = admin.get("/insights/recurring").json()["items"][0]
    assert issue["case_count"] == len(bodies) and issue["spike_alerted_at"] is not None
    assert issue["department_id"] == billing["id"]

    # A new window, a new spike: one more alert.
    clock.advance(timedelta(hours=25))
    for n, body in enumerate(LATE_PARCEL):
        open_case(admin, body, 100 + n, department_id=billing["id"])
    match(session_factory, clock, settings)
    alerts = [m for m in admin.get("/outbox").json()["items"] if m["recipient"] == boss["email"]]
    assert len(alerts) == 2


def test_supervisors_merge_and_split_agents_may_not(admin, complaints, supervisor, agent):
    boss, _ = supervisor
    late = issue_of(admin, complaints["late"][0]["id"])
    charged = issue_of(admin, complaints["charged"][0]["id"])

    refused = agent.post(f"/insights/recurring/{charged}/merge", {"into_id": late})
    assert refused.status_code == 403
    assert (
        agent.post(
            f"/insights/recurring/{late}/split", {"case_ids": [complaints["late"][0]["id"]]}
        ).status_code
        == 403
    )
    assert (
        boss.post(f"/insights/recurring/{late}/merge", {"into_id": late}).json()["error"]["field"]
        == "into_id"
    )
    assert (
        boss.post(f"/insights/recurring/{late}/merge", {"into_id": "rci_missing"}).json()["error"]["field"]
        == "into_id"
    )

    merged = boss.post(f"/insights/recurring/{charged}/merge", {"into_id": late})
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == late and merged.json()["case_count"] == 7
    assert issue_of(admin, complaints["charged"][1]["id"]) == late
    assert all(i["id"] != charged for i in admin.get("/insights/recurring").json()["items"])
    assert admin.get(f"/insights/recurring/{charged}").json()["merged_into_id"] == late

    moving = [c["id"] for c in complaints["charged"]]
    foreign = boss.post(f"/insights/recurring/{late}/split", {"case_ids": [complaints["password"][0]["id"]]})
    assert foreign.status_code == 422 and foreign.json()["error"]["field"] == "case_ids.0"
    split = boss.post(f"/insights/recurring/{late}/split", {"case_ids": moving, "label": "Charged twice"})
    assert split.status_code == 201, split.text
    fresh = split.json()
    assert fresh["label"] == "Charged twice" and fresh["case_count"] == 2
    assert {issue_of(admin, c) for c in moving} == {fresh["id"]}
    assert admin.get(f"/insights/recurring/{late}").json()["case_count"] == 5
    events = admin.get(f"/cases/{moving[0]}/timeline").json()["items"]
    assert [e["data"]["reason"] for e in events if e["kind"] == "recurring_issue_changed"] == [
        "merged by a supervisor",
        "split by a supervisor",
    ]


def test_root_cause_makes_an_owned_prevention_action(admin, complaints, supervisor, agent, clock):
    boss, boss_staff = supervisor
    late = issue_of(admin, complaints["late"][0]["id"])
    body = {
        "root_cause": "The courier's depot in Leeds is short of drivers.",
        "prevention": {
            "text": "Move Leeds deliveries to the second courier.",
            "due_at": (clock.now() + timedelta(days=7)).isoformat(),
            "owner_id": boss_staff["id"],
        },
    }
    assert agent.post(f"/insights/recurring/{late}/root-cause", body).status_code == 403
    bad_owner = boss.post(
        f"/insights/recurring/{late}/root-cause",
        {**body, "prevention": {**body["prevention"], "owner_id": "stf_x"}},
    )
    assert bad_owner.status_code == 422 and bad_owner.json()["error"]["field"] == "prevention.owner_id"
    past = {**body["prevention"], "due_at": (clock.now() - timedelta(days=1)).isoformat()}
    late_due = boss.post(f"/insights/recurring/{late}/root-cause", {**body, "prevention": past})
    assert late_due.status_code == 422 and late_due.json()["error"]["field"] == "prevention.due_at"
    assert admin.get(f"/insights/recurring/{late}").json()["root_cause"] is None  # nothing half-written

    done = boss.post(f"/insights/recurring/{late}/root-cause", body)
    assert done.status_code == 200, done.text
    issue = done.json()
    assert issue["root_cause"] == body["root_cause"]
    [action] = issue["prevention_actions"]
    assert action["owner_id"] == boss_staff["id"] and action["status"] == "open"
    told = [m for m in admin.get("/outbox").json()["items"] if m["recipient"] == boss_staff["email"]]
    assert any("Prevention action" in m["subject"] for m in told)


def test_rebuild_cli_rematches_every_case(admin, complaints, migrated, tmp_path: Path):
    env = {**os.environ, "OWNWELL_DATABASE_URL": migrated, "OWNWELL_SECRET_KEY": "insights-test"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ownwell"), "insights", "rebuild"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "8 cases in 3 recurring issues" in done.stdout
    assert "clustering" in done.stderr  # the progress bar's stages
    late = {issue_of(admin, c["id"]) for c in complaints["late"]}
    assert len(late) == 1
    assert admin.get(f"/insights/recurring/{late.pop()}").json()["case_count"] == 5


def test_a_case_that_cannot_be_matched_is_skipped_and_holds_no_other_case_back(
    admin, session_factory, clock, settings, monkeypatch
):
    from ownwell.insights import jobs

    cases = [open_case(admin, body, n) for n, body in enumerate(LATE_PARCEL[:3])]
    poisoned = cases[0]["id"]  # the oldest: a batch always contains it
    real_assign = jobs.service.assign

    def assign(session, *, pending, **kwargs):
        if any(p.case_id == poisoned for p in pending):
            raise RuntimeError("this case breaks the matcher")
        return real_assign(session, pending=pending, **kwargs)

    monkeypatch.setattr(jobs.service, "assign", assign)
    skipped: set[str] = set()
    assert jobs.match_once(session_factory, clock, settings=settings, skipped=skipped) == 2
    assert skipped == {poisoned}
    assert all(issue_of(admin, c["id"]) for c in cases[1:])
    assert admin.get(f"/cases/{poisoned}").json()["recurring_issue_id"] is None
    # The next tick leaves the skipped case alone: nothing fails, nothing is matched twice.
    assert jobs.match_once(session_factory, clock, settings=settings, skipped=skipped) == 0


def test_a_database_outage_while_matching_skips_no_case(admin, session_factory, clock, settings, monkeypatch):
    """The batch fails because the database went away, not because of a case: nothing may be
    marked as skipped (it would never be matched live), the caller is told to back off."""
    from sqlalchemy.exc import OperationalError

    from ownwell.insights import jobs

    cases = [open_case(admin, body, n) for n, body in enumerate(LATE_PARCEL[:3])]

    def down(*args, **kwargs):
        raise OperationalError("UPDATE cases ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(jobs.service, "assign", down)
    skipped: set[str] = set()
    with pytest.raises(OperationalError):
        jobs.match_once(session_factory, clock, settings=settings, skipped=skipped)
    assert skipped == set()
    monkeypatch.undo()
    assert jobs.match_once(session_factory, clock, settings=settings, skipped=skipped) == 3
    assert all(issue_of(admin, c["id"]) for c in cases)


def test_matching_backs_off_while_the_database_cannot_be_used(session_factory, clock, settings, monkeypatch):
    import threading

    from ownwell.insights import jobs

    waits: list[float] = []
    stop = threading.Event()

    def broken(*args, **kwargs):
        raise RuntimeError("database is down")

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 4:
            stop.set()
        return stop.is_set()

    monkeypatch.setattr(jobs, "match_once", broken)
    monkeypatch.setattr(stop, "wait", wait)
    jobs.run_fast_path(session_factory, clock, settings=settings, stop=stop)  # returns, never raises
    assert waits == sorted(waits) and waits[-1] > waits[0]  # longer and longer pauses
    assert max(waits) <= 60


def test_a_case_arriving_while_the_encoder_runs_is_accepted_at_once(admin, session_factory, clock, settings):
    """The encoder takes seconds on a backlog; it must not run inside a transaction, where
    SQLite's write lock would hold every request back until it finished."""
    from ownwell.insights import jobs, vectors

    first = open_case(admin, LATE_PARCEL[0], 1)
    arrived: list[dict] = []

    def slow_encoder(texts: list[str]):
        arrived.append(open_case(admin, CHARGED_TWICE[0], 2))  # a request in the middle of it
        return vectors.embed(texts)

    assert jobs.match_once(session_factory, clock, settings=settings, skipped=set(), embed=slow_encoder) == 1
    assert issue_of(admin, first["id"])
    assert arrived and admin.get(f"/cases/{arrived[0]['id']}").json()["recurring_issue_id"] is None
    assert jobs.match_once(session_factory, clock, settings=settings, skipped=set()) == 1


def test_issues_embedded_by_an_earlier_model_are_left_alone_until_a_rebuild(
    admin, session_factory, clock, settings, migrated, tmp_path: Path
):
    """Vectors of another length (WordLlama's 256 dims, before the sentence encoder) must not
    break matching: such an issue attracts no new case, and a rebuild re-embeds its cases."""
    from sqlalchemy import update

    from ownwell.insights.models import CaseVector, RecurringIssue

    old = open_case(admin, LATE_PARCEL[0], 1)
    assert match(session_factory, clock, settings) == 1
    with unit_of_work(session_factory) as session:
        session.execute(update(RecurringIssue).values(vector_sum=b"\0" * 1024))
        session.execute(update(CaseVector).values(vector=b"\0" * 1024))
    new = open_case(admin, LATE_PARCEL[1], 2)
    assert match(session_factory, clock, settings) == 1
    assert issue_of(admin, new["id"]) != issue_of(admin, old["id"])

    done = subprocess.run(
        [str(Path(sys.executable).parent / "ownwell"), "insights", "rebuild"],
        env={**os.environ, "OWNWELL_DATABASE_URL": migrated, "OWNWELL_SECRET_KEY": "insights-test"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert issue_of(admin, new["id"]) == issue_of(admin, old["id"])


def test_the_worker_runs_the_encoder_in_a_lower_priority_process():
    import numpy as np

    from ownwell.insights import vectors
    from ownwell.insights.embedder import NICENESS, BackgroundEmbedder

    texts = [LATE_PARCEL[0], "", PASSWORD]
    encoder = BackgroundEmbedder()
    try:
        rows = encoder(texts)
        child_niceness = encoder._executor().submit(os.nice, 0).result()
    finally:
        encoder.close()
    assert child_niceness == min(19, os.nice(0) + NICENESS)
    assert np.allclose(rows, vectors.embed(texts), atol=1e-5)
    assert not rows[1].any()  # an empty text matches nothing


def test_the_encoder_process_ends_when_its_worker_is_killed(tmp_path: Path):
    import signal
    import time

    script = tmp_path / "killed_worker.py"
    script.write_text(
        "import os, signal\n"
        "from ownwell.insights.embedder import BackgroundEmbedder\n"
        "if __name__ == '__main__':\n"
        "    encoder = BackgroundEmbedder()\n"
        "    encoder(['warm up'])\n"
        "    print(encoder._executor().submit(os.getpid).result(), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    child = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{child}/stat")
    while time.monotonic() < deadline:
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":  # exited, not yet reaped
                return
        except FileNotFoundError:
            return
        time.sleep(0.2)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the encoder process outlived its killed worker")
