"""An agent works a case from My day to resolved, in a real browser; a supervisor approves the
agent's offer in a second browser, and the agent's open page picks the change up by itself."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Dialog, Page, expect

from ownwell.staff.models import Role
from tests.browser.conftest import LAPTOP
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff

XSS = "<script>alert(1)</script><b>x</b>"


def _people(session_factory, clock) -> None:  # type: ignore[no-untyped-def]
    make_staff(
        session_factory,
        clock,
        name="Sam Agent",
        email="sam@ownwell.test",
        departments=["Shipping"],
        authority={"refund": 20},
    )
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Shipping"],
        authority={"refund": 500},
    )


def test_agent_takes_a_case_from_my_day_to_resolved(
    admin, page: Page, browser: Browser, live_url: str, session_factory, clock
):
    _people(session_factory, clock)
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Mia Jensen", "emails": ["mia@example.com"]},
            "subject": "Broken lamp",
            "body": "The lamp arrived in pieces. I would like my money back.",
            "channel": "email",
            "kind": "complaint",
        },
    ).json()
    assert case["owner"]["name"] == "Sam Agent"  # the only agent on duty

    signed_in(page, "sam@ownwell.test")
    page.get_by_role("link", name="New case for you: Broken lamp").click()
    expect(page.get_by_role("heading", name="Broken lamp")).to_be_visible()
    expect(page.locator(".voice blockquote")).to_have_text(
        "The lamp arrived in pieces. I would like my money back."
    )
    expect(page.locator(".panel")).to_contain_text("mia@example.com")

    # Reply to the customer.
    page.get_by_label("Message").fill("I am sorry, Mia. I am on it and will write again today.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status").filter(has_text="on its way")).to_be_visible()
    expect(page.locator("#timeline-list")).to_contain_text("I am sorry, Mia.")

    # Make a promise (organisation time zone is UTC in tests).
    page.get_by_label("What you will do").fill("Send a replacement lamp")
    page.get_by_label("By when").fill("2026-03-04T12:00")
    page.get_by_role("button", name="Make the promise").click()
    expect(page.locator("#commitments")).to_contain_text("Send a replacement lamp")
    expect(page.locator("#commitments")).to_contain_text("Wed 4 Mar, 12:00")

    # Attribute the case: Shipping broke it, so Shipping's supervisor decides what it costs.
    page.get_by_text("Attribute to a department").click()
    page.get_by_label("Caused by").select_option(label="Shipping")
    page.get_by_role("button", name="Save attribution").click()
    expect(page.locator("#case-head")).to_contain_text("Shipping")

    # An offer above Sam's authority of 20.00 goes to a supervisor.
    page.get_by_label("Kind of offer").select_option("refund")
    page.get_by_label("Amount").fill("80")
    page.get_by_label("Reason for the offer").fill("Lamp cost 80; a full refund is fair.")
    page.get_by_role("button", name="Make the offer").click()
    expect(page.get_by_role("status").filter(has_text="sent to a supervisor")).to_be_visible()
    expect(page.locator("#offers")).to_contain_text("pending approval")
    expect(page.locator("#offers").get_by_role("button", name="Approve")).to_have_count(0)  # not Sam's call
    shoot(page, "case")

    # Sue approves in her own browser.
    other = browser.new_context(base_url=live_url, viewport=LAPTOP)
    other.set_default_timeout(10_000)
    try:
        sue = other.new_page()
        signed_in(sue, "sue@ownwell.test")  # My day: the approval waiting for her, one click away
        expect(
            sue.get_by_text("Approve or reject a refund of 80.00 EUR proposed by Sam Agent")
        ).to_be_visible()
        sue.get_by_role("link", name="Decide").click()
        expect(sue.locator("#offers")).to_contain_text("Lamp cost 80; a full refund is fair.")
        sue.locator("#offers").get_by_role("button", name="Approve").click()
        expect(sue.get_by_role("status").filter(has_text="approved and applied")).to_be_visible()
    finally:
        other.close()

    # Sam's page shows it without a reload (the poll runs every 10 s and when the window gets focus).
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.locator("#live")).to_contain_text("Sue Super")
    expect(page.locator("#timeline-list")).to_contain_text("approved a refund of 80.00 EUR")

    # Resolve with a summary and a tip for next time.
    page.reload()
    page.get_by_text("Resolve", exact=True).click()
    page.get_by_label("What was done").fill("Refunded 80.00 EUR and a new lamp is on its way.")
    page.get_by_label("Tip to avoid this next time").fill("Ask for the padded box at checkout.")
    page.get_by_role("button", name="Resolve the case").click()
    expect(page.get_by_role("status").filter(has_text="Case resolved")).to_be_visible()
    expect(page.locator("#case-head")).to_contain_text("resolved")
    expect(page.locator("#timeline-list")).to_contain_text("Ask for the padded box at checkout.")
    shoot(page, "case-resolved")

    stored = admin.get(f"/cases/{case['id']}").json()
    assert stored["status"] == "resolved"
    offers = admin.get(f"/cases/{case['id']}/offers").json()["items"]
    assert [(o["status"], o["decided_by"]["name"]) for o in offers] == [("approved", "Sue Super")]
    kinds = [m["subject"] for m in admin.get("/outbox", case_id=case["id"]).json()["items"]]
    assert len(kinds) >= 4  # acknowledgement, reply, refund applied, resolution


def test_customer_text_with_markup_is_shown_as_text(admin, page: Page, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    dialogs: list[Dialog] = []
    page.on("dialog", lambda d: (dialogs.append(d), d.dismiss()))
    case = admin.post(
        "/cases",
        {
            "customer": {"name": XSS, "emails": ["eve@example.com"]},
            "subject": XSS,
            "body": XSS,
            "channel": "web",
            "kind": "question",
        },
    ).json()
    signed_in(page, "sam@ownwell.test")
    page.goto(f"/cases/{case['id']}")
    expect(page.locator(".voice blockquote")).to_have_text(XSS)
    expect(page.locator("h1")).to_have_text(XSS)
    expect(page.locator(".panel h2")).to_have_text(XSS)
    assert page.locator(".voice b, h1 b, .panel b").count() == 0
    page.goto("/cases?q=eve%40example.com")
    expect(page.get_by_role("table").get_by_role("link", name=XSS)).to_be_visible()
    page.goto(f"/customers/{case['customer_id']}")
    expect(page.get_by_role("heading", name=XSS).first).to_be_visible()
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('main script').length") == 0


def test_search_and_refused_form_keep_what_was_typed(admin, page: Page, session_factory, clock):
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    admin.post(
        "/orders",
        {
            "external_id": "A-1001",
            "customer": {"name": "Oli Berg", "emails": ["oli@example.com"]},
            "department_id": admin.post("/departments", {"name": "Shipping"}).json()["id"],
            "promised_by": "2026-03-05T12:00:00Z",
        },
    )
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Oli Berg", "emails": ["oli@example.com"]},
            "subject": "Where is my parcel",
            "body": "It was due yesterday; tracking says nothing.",
            "channel": "email",
            "kind": "question",
        },
    ).json()
    signed_in(page, "sam@ownwell.test")
    page.get_by_role("link", name="Cases").click()
    page.get_by_label("Search cases").fill("tracking says")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Where is my parcel")).to_be_visible()
    shoot(page, "search")
    assert serious_violations(page) == []
    page.get_by_role("link", name="Where is my parcel").click()
    expect(page).to_have_url(re.compile(case["id"]))
    # Transfer without a hand-off note: refused, with the reason beside the field.
    page.get_by_text("Transfer to someone else").click()
    page.get_by_label("New owner").select_option(label="Ada Admin")
    page.get_by_role("button", name="Transfer").click()
    expect(page.locator("#transfer-handoff_note-error")).to_have_text("Please fill this in.")
    expect(page.get_by_label("New owner")).to_have_value(re.compile("stf_"))
    assert serious_violations(page) == []  # the case page, with a refused form on it
    assert admin.get(f"/cases/{case['id']}").json()["owner"]["name"] == "Sam Agent"
    page.get_by_label("Hand-off note").fill("Oli needs the carrier's answer by Friday.")
    page.get_by_role("button", name="Transfer").click()
    expect(page.locator("[data-testid=owner]")).to_have_text("Ada Admin")
    page.get_by_role("link", name="Oli Berg").click()
    expect(page.get_by_role("heading", name="Oli Berg").first).to_be_visible()
    expect(page.get_by_text("A-1001")).to_be_visible()
    shoot(page, "customer")
    assert serious_violations(page) == []
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    expect(page.get_by_role("link", name="Oli Berg")).to_be_visible()
    shoot(page, "customers")
    page.get_by_role("link", name="My day").click()
    expect(page.get_by_role("heading", name="My day")).to_be_visible()
    assert serious_violations(page) == []
