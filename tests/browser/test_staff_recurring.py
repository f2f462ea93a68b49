"""Recurring issues in a real browser (issue #6): a supervisor records a root cause with a
prevention action, splits a case off into its own issue, merges two issues, and sees the top
issues charted week by week on the insights dashboard."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from ownwell.db import unit_of_work
from ownwell.insights.jobs import assign_pending
from ownwell.staff.models import Role
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff

LATE = [
    "My parcel has not been delivered yet and it is late.",
    "The delivery of my package is late, it has not arrived.",
    "My parcel is late and still has not arrived.",
]
CHARGED = [
    "I was charged twice for the same order on my credit card.",
    "You took the payment two times from my card for one order.",
]


def test_a_supervisor_curates_recurring_issues(admin, page: Page, session_factory, clock, settings):  # type: ignore[no-untyped-def]
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Shipping"],
    )
    shipping = admin.get("/departments").json()["items"][0]
    cases = []
    for n, body in enumerate(LATE + CHARGED):
        answer = admin.post(
            "/cases",
            {
                "customer": {"name": f"Customer {n}", "emails": [f"c{n}@example.com"]},
                "body": body,
                "kind": "complaint",
                "caused_by_department_id": shipping["id"],
            },
        )
        assert answer.status_code == 201, answer.text
        cases.append(answer.json())
        clock.advance(timedelta(minutes=5))
    with unit_of_work(session_factory) as session:
        assert assign_pending(session, now=clock.now(), settings=settings) == len(cases)
    late_issue = admin.get(f"/cases/{cases[0]['id']}").json()["recurring_issue_id"]
    charged_issue = admin.get(f"/cases/{cases[3]['id']}").json()["recurring_issue_id"]
    assert late_issue != charged_issue

    signed_in(page, "sue@ownwell.test")
    page.goto("/insights/recurring")
    shoot(page, "recurring")
    page.get_by_role("link", name=LATE[0]).click()
    expect(page.get_by_role("heading", name=LATE[0])).to_be_visible()

    page.get_by_text("Record the root cause").click()
    page.get_by_label("Root cause", exact=True).fill("The courier's Leeds depot lost its night shift.")
    page.get_by_role("button", name="Record root cause").click()
    expect(page.locator("#root_cause-prevention-error")).to_contain_text("stop it from happening again")
    expect(page.get_by_label("Root cause", exact=True)).to_have_value(
        "The courier's Leeds depot lost its night shift."
    )
    page.get_by_label("Prevention action").fill("Move Leeds parcels to the York depot until March.")
    page.get_by_role("button", name="Record root cause").click()
    expect(page.get_by_role("status")).to_contain_text("Root cause recorded")
    expect(page.locator("[data-root-cause]")).to_have_text("The courier's Leeds depot lost its night shift.")
    shoot(page, "recurring-issue")
    assert serious_violations(page) == []
    issue = admin.get(f"/insights/recurring/{late_issue}").json()
    assert issue["prevention_actions"][0]["text"] == "Move Leeds parcels to the York depot until March."

    page.get_by_label(f"Split off: {cases[2]['subject']}").check()
    page.get_by_label("Label of the new issue").fill("Parcel stuck in Leeds")
    page.get_by_role("button", name="Split the ticked cases off").click()
    expect(page.get_by_role("heading", name="Parcel stuck in Leeds")).to_be_visible()
    assert admin.get(f"/insights/recurring/{late_issue}").json()["case_count"] == 2

    page.get_by_label("Merge into").select_option(label=f"{LATE[0]} (2)")
    page.get_by_role("button", name="Merge").click()
    expect(page.get_by_role("status")).to_contain_text("Merged")
    expect(page.get_by_role("heading", name=LATE[0])).to_be_visible()
    assert admin.get(f"/insights/recurring/{late_issue}").json()["case_count"] == 3

    page.get_by_role("link", name="Insights", exact=True).click()
    chart = page.locator("#chart-recurring")
    expect(chart.locator("svg path.line")).to_have_count(2)  # the late parcels and the double charges
    chart.get_by_text("The numbers").click()
    expect(chart.get_by_role("table")).to_contain_text(LATE[0])
    expect(chart.get_by_role("table").locator("thead")).to_contain_text(CHARGED[0][:40])
    assert charged_issue
