"""Issue #17 in a real browser: a case asked for on the public help form is marked "unverified
sender — web form" on the staff case page, until the customer writes through the link that only
went to their address."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ownwell.staff.models import Role
from tests.browser.staff import signed_in
from tests.browser.test_help_and_portal import ask_for_help, follow_emailed_link
from tests.staff_web import make_staff

BADGE = "unverified sender — web form"


def test_staff_see_a_help_form_case_as_unverified_until_the_customer_replies_through_the_e_mailed_link(
    admin, page: Page, session_factory, clock
):
    make_staff(session_factory, clock, name="Sam Supervisor", email="sam@ownwell.test", role=Role.admin)
    ask_for_help(page, "ines@example.com", "My kettle leaks from the base.")
    [case] = admin.get("/cases").json()["items"]
    signed_in(page, "sam@ownwell.test")
    page.goto(f"/cases/{case['id']}")
    expect(page.get_by_test_id("unverified-sender")).to_have_text(BADGE)

    follow_emailed_link(admin, page, "ines@example.com")
    page.get_by_label("Your message").fill("It is the 1.7 l model.")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Your message is on your case")).to_be_visible()

    page.goto(f"/cases/{case['id']}")
    expect(page.get_by_text("It is the 1.7 l model.").first).to_be_visible()
    expect(page.get_by_test_id("unverified-sender")).to_have_count(0)
    expect(page.get_by_text("answered from their own address")).to_be_visible()
