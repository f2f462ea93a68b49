"""The audit page in a real browser: an admin changes a cadence policy on Settings and finds the
change, with its old and new value, in the audit log; a supervisor is refused the page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ownwell.staff.models import Role
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff


def test_an_admin_finds_a_settings_change_in_the_audit_log(
    page: Page, browser, live_url, session_factory, clock
):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Maya Admin", email="maya@ownwell.test", role=Role.admin)
    make_staff(session_factory, clock, name="Jonas Super", email="jonas@ownwell.test", role=Role.supervisor)
    signed_in(page, "maya@ownwell.test")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Complaints: every … minutes").fill("90")
    page.get_by_role("button", name="Save cadence for complaints").click()

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    row = page.locator("table.audit tbody tr").first
    expect(row).to_contain_text("cadence_policy.changed")
    expect(row).to_contain_text("Maya Admin")
    expect(row).to_contain_text('"update_every_minutes": 90')
    shoot(page, "audit")
    assert serious_violations(page) == []

    other = browser.new_context(base_url=live_url)
    supervisor = other.new_page()
    signed_in(supervisor, "jonas@ownwell.test")
    response = supervisor.goto("/settings/audit")
    assert response is not None and response.status == 403
    expect(supervisor.get_by_role("alert")).to_contain_text("only an admin may read the audit log")
    other.close()
