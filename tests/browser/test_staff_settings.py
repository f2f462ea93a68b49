"""Settings in a real browser: an admin adds a department and a person with authority limits;
an agent who opens Settings gets the 403 page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ownwell.staff.models import Role
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff


def test_admin_adds_a_department_and_a_staff_member(
    admin, page: Page, browser, live_url, session_factory, clock
):  # type: ignore[no-untyped-def]
    make_staff(
        session_factory,
        clock,
        name="Ada Admin-Web",
        email="ada.web@ownwell.test",
        role=Role.admin,
        departments=["Billing"],
    )
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", role=Role.agent)
    signed_in(page, "ada.web@ownwell.test")
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()

    page.get_by_label("New department").fill("Shipping")
    page.get_by_role("button", name="Add department").click()
    expect(page.get_by_role("status")).to_have_text("Department added.")
    expect(page.locator(".chips")).to_contain_text("Shipping")

    form = page.get_by_role("form", name="Add a staff member")
    form.get_by_label("Name", exact=True).fill("Lea Lind")
    form.get_by_label("E-mail address").fill("lea@ownwell.test")
    form.get_by_label("Role").select_option("supervisor")
    form.get_by_label("First password").fill("short")
    form.get_by_label("Shipping").check()
    form.get_by_label("Refund").fill("75")
    form.get_by_role("button", name="Add staff member").click()
    # The API's own rule, shown next to the field; what was typed is kept.
    form = page.get_by_role("form", name="Add a staff member")
    expect(form.locator("#staff-password-error")).to_contain_text("at least 10 characters")
    expect(form.get_by_label("E-mail address")).to_have_value("lea@ownwell.test")
    form.get_by_label("First password").fill("a long enough password")
    form.get_by_role("button", name="Add staff member").click()
    expect(page.get_by_role("status")).to_contain_text("Staff member added")
    lea = next(s for s in admin.get("/staff").json()["items"] if s["email"] == "lea@ownwell.test")
    assert lea["role"] == "supervisor" and lea["authority"]["refund"] == "75.00"
    assert [
        d["name"] for d in admin.get("/departments").json()["items"] if d["id"] in lea["department_ids"]
    ] == ["Shipping"]
    row = page.locator(f"#staff-{lea['id']}")
    expect(row).to_contain_text("refund 75.00")
    shoot(page, "settings")
    assert serious_violations(page) == []

    row.get_by_text("Edit authority").click()
    row.get_by_label("Refund").fill("250")
    row.get_by_role("button", name="Save authority").click()
    expect(page.locator(f"#staff-{lea['id']}")).to_contain_text("refund 250.00")

    other = browser.new_context(base_url=live_url)
    agent = other.new_page()
    signed_in(agent, "sam@ownwell.test")
    response = agent.goto("/settings")
    assert response is not None and response.status == 403
    expect(agent.get_by_role("alert")).to_contain_text("only an admin")
    other.close()
