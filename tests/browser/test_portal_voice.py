"""A customer uses their case page in a real browser: reads who owns it and what we promised,
replies, says what would be fair, and after the owner resolves it confirms and rates, which
credits the owner with kudos. Links of others, tampered and expired links show nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_help_and_portal import SCREENSHOTS


def open_case(admin, *, name: str, email: str, body: str):  # type: ignore[no-untyped-def]
    answer = admin.post("/cases", {"customer": {"name": name, "emails": [email]}, "body": body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def shoot(page: Page, name: str) -> None:
    """The current page at laptop and phone width, into docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-laptop.png"), full_page=True)


def test_customer_replies_proposes_confirms_and_rates(admin, page: Page, clock):
    case = open_case(admin, name="Rui Costa", email="rui@example.com", body="My kettle leaks from the base.")
    due = (clock.now() + timedelta(days=2)).isoformat()
    admin.post(f"/cases/{case['id']}/commitments", {"text": "Send you a replacement kettle", "due_at": due})
    admin.post(f"/cases/{case['id']}/messages", {"body": "Is it the 1.7 l model?", "wait_for_customer": True})

    page.goto(case["portal_url"])
    expect(page.locator(".portal-owner-name")).to_have_text("Ada Admin")
    expect(page.get_by_text("We are waiting for your answer")).to_be_visible()
    expect(page.locator(".portal-promises")).to_contain_text("Send you a replacement kettle")
    shoot(page, "portal-interactive")

    page.get_by_label("Your message").fill("Yes, the 1.7 l one.\nBought in May.")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("status")).to_contain_text("Your message is on your case")
    expect(page.locator(".portal-message_in").last).to_contain_text("Yes, the 1.7 l one.")
    expect(page.get_by_text("We are working on it")).to_be_visible()

    page.get_by_label("Your proposal").fill("A new kettle, or 30 EUR back")
    page.get_by_role("button", name="Send my proposal").click()
    expect(page.get_by_role("status")).to_contain_text("has your proposal")
    expect(page.locator(".portal-quote")).to_contain_text("A new kettle, or 30 EUR back")
    owner_mail = [
        m for m in admin.get("/outbox", case_id=case["id"]).json()["items"] if m["kind"] == "fair_solution"
    ]
    assert [m["recipient"] for m in owner_mail] == ["ada@ownwell.test"]

    resolved = admin.post(f"/cases/{case['id']}/resolve", {"summary": "A new kettle is on its way."})
    assert resolved.status_code == 200, resolved.text
    page.goto(case["portal_url"])
    expect(page.get_by_role("heading", name="Is everything solved?")).to_be_visible()
    shoot(page, "portal-confirm")
    page.get_by_label("Yes, all good").check()
    page.get_by_role("group", name=re.compile("How satisfied")).get_by_label("5").check()
    page.get_by_role("group", name=re.compile("How easy")).get_by_label("6").check()
    page.get_by_label(re.compile("Anything you want to tell")).fill("Thank you, Ada was wonderful!")
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("status")).to_contain_text("Your case is closed")
    expect(page.get_by_role("heading", name="Is everything solved?")).to_have_count(0)

    assert admin.get(f"/cases/{case['id']}").json()["status"] == "closed"
    kudos = admin.get(f"/staff/{case['owner']['id']}/kudos").json()["items"]
    assert [(k["text"], k["source"]) for k in kudos] == [("Thank you, Ada was wonderful!", "survey")]
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert {"message_in", "fair_solution", "resolved", "feedback", "kudos"} <= set(kinds)


def test_other_tampered_and_expired_links_show_nothing_of_the_first_customer(admin, page: Page, clock):
    first = open_case(admin, name="Ana Silva", email="ana@example.com", body="Secret kettle story")
    other = open_case(admin, name="Bo Berg", email="bo@example.com", body="A toaster question")

    def shows_nothing_of_the_first() -> None:
        text = page.content()
        assert "Ana Silva" not in text and "Secret kettle story" not in text and first["subject"] not in text

    page.goto(other["portal_url"])
    expect(page.get_by_text("A toaster question").first).to_be_visible()
    shows_nothing_of_the_first()

    token = first["portal_url"].rsplit("/", 1)[1]
    tampered = token[:-3] + ("x" if token[-3] != "x" else "y") + token[-2:]
    response = page.goto(f"/portal/{tampered}")
    assert response is not None and response.status == 404
    shows_nothing_of_the_first()

    clock.advance(timedelta(days=40))
    response = page.goto(first["portal_url"])
    assert response is not None and response.status == 404
    shows_nothing_of_the_first()
    expect(page.get_by_role("heading", name="This link is not valid any more")).to_be_visible()
    shoot(page, "portal-expired")

    page.get_by_label("Your e-mail address").fill("ana@example.com")
    page.get_by_role("button", name="E-mail me a fresh link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    shows_nothing_of_the_first()
    [mail] = [m for m in admin.get("/outbox", limit=200).json()["items"] if m["kind"] == "portal_link"]
    assert mail["recipient"] == "ana@example.com"
    fresh_link = re.search(r"(http://\S+/portal/\S+)", mail["body"]).group(1)  # type: ignore[union-attr]
    page.goto(fresh_link)
    expect(page.get_by_text("Secret kettle story").first).to_be_visible()
