"""The insights dashboard in a real browser: week-by-week SVG charts with their numbers, the
figures of metrics.service for the same weeks; an agent is refused, a supervisor sees their
own department."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from ownwell.staff.models import Role
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff


def _case(admin, n: int, department_id: str):  # type: ignore[no-untyped-def]
    return admin.post(
        "/cases",
        {
            "customer": {"name": f"Customer {n}", "emails": [f"c{n}@example.com"]},
            "subject": f"Parcel {n} late",
            "body": "Where is my parcel?",
            "channel": "email",
            "kind": "complaint",
            "caused_by_department_id": department_id,
        },
    ).json()


def test_the_dashboard_charts_the_weeks_and_guards_who_reads_it(  # type: ignore[no-untyped-def]
    admin, page: Page, browser, live_url, session_factory, clock
):
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Shipping"],
    )
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", departments=["Shipping"])
    shipping = admin.get("/departments").json()["items"][0]
    # Three weeks of work: each week a case answered after two hours, a promise kept on time,
    # and in the last week a promise kept an hour late.
    for week in range(3):
        case = _case(admin, week, shipping["id"])
        due = (clock.now() + timedelta(hours=5)).isoformat()
        promise = admin.post(f"/cases/{case['id']}/commitments", {"text": "Call back", "due_at": due}).json()
        clock.advance(timedelta(hours=2))
        admin.post(f"/cases/{case['id']}/messages", {"body": "It is on its way.", "visibility": "customer"})
        clock.advance(timedelta(hours=4 if week == 2 else 1))
        admin.post(f"/commitments/{promise['id']}/keep")
        clock.advance(timedelta(days=7) - timedelta(hours=6 if week == 2 else 3))
    clock.advance(timedelta(hours=20))  # weeks now start at 06:00 on Mondays, before each day's work

    other = browser.new_context(base_url=live_url)
    agent = other.new_page()
    signed_in(agent, "sam@ownwell.test")
    response = agent.goto("/insights")
    assert response is not None and response.status == 403
    other.close()

    signed_in(page, "sue@ownwell.test")
    page.get_by_role("link", name="Insights").click()
    expect(page.get_by_label("Department", exact=True)).to_have_value(
        shipping["id"]
    )  # their own, chosen for them
    api = admin.get(
        "/metrics", since=(clock.now() - timedelta(weeks=8)).isoformat(), department_id=shipping["id"]
    )
    figures = api.json()
    assert figures["promise_kept_rate"]["numerator"] == 2 and figures["promise_kept_rate"]["denominator"] == 3
    expect(page.locator('[data-metric="promises"]')).to_contain_text("67% (2 of 3; 0 broken)")
    expect(page.locator('[data-metric="first-response"]')).to_contain_text("2.0 h")
    expect(page.locator("#chart-first-response svg path.line").first).to_be_attached()
    chart = page.locator("#chart-promises")
    expect(chart.locator("svg circle")).to_have_count(3)  # weeks without a promise due draw no dot
    chart.get_by_text("The numbers").click()
    expect(chart.get_by_role("table")).to_contain_text("100%")
    expect(chart.get_by_role("table")).to_contain_text("0%")
    shoot(page, "insights")
    assert serious_violations(page) == []
    page.get_by_label("Weeks", exact=True).select_option("4")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#chart-promises svg circle")).to_have_count(3)
    expect(page.locator("#chart-promises tbody tr")).to_have_count(4)
