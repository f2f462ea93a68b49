"""Signing in and My day in a real browser."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from ownwell.staff.models import Role
from tests.browser.staff import shoot, signed_in
from tests.staff_web import make_staff


def test_sign_in_page_and_my_day_with_work_due(admin, page: Page, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", role=Role.agent)
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shoot(page, "login")
    page.get_by_label("E-mail address").fill("sam@ownwell.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")

    # Work for Sam: a new case routed to them (the only agent) with a promise due soon.
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Mia Jensen", "emails": ["mia@example.com"]},
            "subject": "Broken lamp",
            "body": "The lamp arrived broken.",
            "channel": "email",
            "kind": "complaint",
        },
    ).json()
    assert case["owner"]["name"] == "Sam Agent"
    due = (clock.now() + timedelta(hours=3)).isoformat()
    promise = admin.post(f"/cases/{case['id']}/commitments", {"text": "Send a new lamp", "due_at": due})
    assert promise.status_code == 201, promise.text

    signed_in(page, "sam@ownwell.test")
    expect(page.get_by_role("link", name="Send a new lamp").first).to_be_visible()
    expect(page.get_by_text("New case for you: Broken lamp")).to_be_visible()
    expect(page.get_by_text("Mia Jensen").first).to_be_visible()
    shoot(page, "my-day")
    page.get_by_role("button", name="Mark kept").click()
    expect(page.get_by_role("link", name="Send a new lamp")).to_have_count(0)
    kept = admin.get(f"/cases/{case['id']}/commitments").json()
    assert kept[0]["status"] == "kept"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
