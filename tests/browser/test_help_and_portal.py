"""A customer asks for help in a real browser: the help form, the thank-you page, the case page."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import LAPTOP, PHONE

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def ask_for_help(page: Page, email: str, what: str, order: str = "") -> int:
    """Fill the form the way a person does and send it; the HTTP status of the answer."""
    page.goto("/help")
    page.get_by_label("Your e-mail address").fill(email)
    page.get_by_label("What happened?").fill(what)
    if order:
        page.get_by_label("Order number").fill(order)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Send").click()
    response = navigation.value
    assert response is not None
    return response.status


def follow_emailed_link(admin, page: Page, email: str) -> None:  # type: ignore[no-untyped-def]
    """Open the case link from the acknowledgement we e-mailed (the thank-you page has none)."""
    [ack] = [
        m
        for m in admin.get("/outbox", limit=200).json()["items"]
        if m["recipient"] == email.lower() and m["kind"] == "acknowledgement"
    ]
    found = re.search(r"(https?://\S+/portal/\S+)", ack["body"])
    assert found, ack["body"]
    page.goto(found.group(1))


def test_customer_asks_and_follows_the_e_mailed_link_to_their_case(admin, page: Page):
    ask_for_help(page, "mia@example.com", "My parcel arrived with a broken lamp inside.")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.get_by_text("We have written to mia@example.com")).to_be_visible()
    expect(page.get_by_role("link", name="See your case")).to_have_count(0)
    follow_emailed_link(admin, page, "mia@example.com")
    expect(page).to_have_url(re.compile(r"/portal/"))
    expect(page.get_by_text("My parcel arrived with a broken lamp inside.").first).to_be_visible()
    expect(page.get_by_text("Who owns your case")).to_be_visible()
    expect(page.locator("section.card strong").first).to_have_text("Ada Admin")
    case = admin.get("/cases").json()["items"][0]
    assert case["channel"] == "web" and case["kind"] == "question"


def test_returning_customer_is_recognised_without_the_page_saying_so(admin, page: Page):
    ask_for_help(page, "Lea@Example.com", "The invoice shows the wrong address.")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    ask_for_help(page, "lea@example.com", "And the second invoice too.")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.get_by_text("Welcome back")).to_have_count(0)
    cases = admin.get("/cases").json()["items"]
    assert len(cases) == 2 and cases[0]["customer_id"] == cases[1]["customer_id"]
    customers = admin.get("/customers").json()["items"]
    assert len(customers) == 1


def test_order_number_attributes_the_case_to_the_orders_department(admin, page: Page):
    dept = admin.post("/departments", {"name": "Shipping"}).json()
    order = admin.post(
        "/orders",
        {
            "external_id": "A-1001",
            "customer": {"emails": ["oli@example.com"]},
            "department_id": dept["id"],
            "promised_by": "2026-03-05T12:00:00Z",
        },
    )
    assert order.status_code == 201, order.text
    ask_for_help(page, "oli@example.com", "Where is my order?", order="A-1001")
    expect(page.get_by_text("about order A-1001")).to_be_visible()
    case = admin.get("/cases").json()["items"][0]
    assert case["order_id"] == order.json()["id"] and case["caused_by_department_id"] == dept["id"]


def test_script_typed_as_words_is_shown_as_text(admin, page: Page):
    dialogs: list[Dialog] = []
    page.on("dialog", lambda d: (dialogs.append(d), d.dismiss()))
    ask_for_help(page, "eve@example.com", "<script>alert(1)</script>")
    follow_emailed_link(admin, page, "eve@example.com")
    expect(page.get_by_text("<script>alert(1)</script>").first).to_be_visible()
    assert dialogs == []


def test_invalid_input_is_shown_next_to_the_field_and_kept(admin, page: Page):
    assert ask_for_help(page, "not-an-address", "<b>kept</b> words") == 422
    expect(page.locator("#email-error")).to_contain_text("does not look like an e-mail address")
    expect(page.get_by_label("What happened?")).to_have_value("<b>kept</b> words")
    expect(page.get_by_label("Your e-mail address")).to_have_value("not-an-address")


def test_post_without_csrf_token_is_refused(admin, page: Page):
    page.goto("/help")
    answer = page.request.post("/help", form={"email": "x@example.com", "what": "hello"})
    assert answer.status == 403
    forged = page.request.post("/help", form={"email": "x@example.com", "what": "hi", "csrf": "0" * 64})
    assert forged.status == 403
    assert admin.get("/cases").json()["items"] == []


def test_rate_limit_per_address_answers_429(admin, page: Page, clock):
    for n in range(5):
        ask_for_help(page, "busy@example.com", f"Request number {n}")
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert ask_for_help(page, "busy@example.com", "One too many") == 429
    expect(page.get_by_text("Please wait ten minutes")).to_be_visible()
    clock.advance(timedelta(minutes=11))
    ask_for_help(page, "busy@example.com", "Later again")
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()


def test_screenshots_of_help_form_and_case_page(admin, page: Page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto("/help")
    page.screenshot(path=str(SCREENSHOTS / "help-laptop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / "help-phone.png"), full_page=True)
    ask_for_help(page, "sam@example.com", "The blue kettle I ordered arrived red. Can I swap it?")
    follow_emailed_link(admin, page, "sam@example.com")
    expect(page.get_by_text("Who owns your case")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "portal-phone.png"), full_page=True)
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(SCREENSHOTS / "portal-laptop.png"), full_page=True)
