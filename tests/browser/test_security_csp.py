"""The strict Content-Security-Policy holds in a real browser: the staff case page, the portal
and the help form load without a single violation, and what they do with script still works
(htmx's poll, the "Use this tip" button that moved out of an inline handler)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from ownwell.cases.models import Case
from ownwell.db import unit_of_work
from tests.browser.conftest import LAPTOP
from tests.browser.staff import signed_in
from tests.staff_web import make_staff

TIP = "Ask for the padded box at checkout."
# Every violation the page reports, from its first script on (the init script runs first).
COLLECT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def watched(browser: Browser, live_url: str) -> Iterator[tuple[Page, list[str]]]:
    """A page whose console errors and warnings are kept, with violations collected."""
    context = browser.new_context(base_url=live_url, viewport=LAPTOP)
    context.set_default_timeout(10_000)
    context.add_init_script(COLLECT)
    page = context.new_page()
    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        # Browsers ask for /favicon.ico by themselves; there is none, and that is no policy matter.
        if message.type in ("error", "warning") and not message.location["url"].endswith("/favicon.ico"):
            console.append(f"{message.type}: {message.text} ({message.location['url']})")

    page.on("console", keep)
    yield page, console
    context.close()


def _clean(page: Page, console: list[str]) -> None:
    assert page.evaluate("window.__violations") == []
    assert console == []


def _goto(page: Page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.ok, path
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_staff_case_page_keeps_working_under_the_csp_without_a_violation(
    admin, watched, session_factory, clock, recurring_issue
):  # type: ignore[no-untyped-def]
    page, console = watched
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", departments=["Care"])
    issue = recurring_issue("Broken in transit")
    assert admin.post("/knowledge/tips", {"recurring_issue_id": issue, "text": TIP}).status_code == 201
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Mia Jensen", "emails": ["mia@example.com"]},
            "subject": "Broken lamp",
            "body": "It broke.",
        },
    ).json()
    with unit_of_work(session_factory) as session:
        session.get(Case, case["id"]).recurring_issue_id = issue  # type: ignore[union-attr]

    signed_in(page, "sam@ownwell.test")
    _goto(page, f"/cases/{case['id']}")
    expect(page.get_by_role("heading", name="Broken lamp")).to_be_visible()

    # The button that had an inline onclick fills the tip field from static/staff.js.
    page.get_by_text("Resolve", exact=True).click()
    page.get_by_role("button", name="Use this tip").click()
    tip = page.get_by_label("Tip to avoid this next time")
    expect(tip).to_have_value(TIP)
    expect(tip).to_be_focused()

    # htmx's poll (on focus, as every 10 s) brings a change made elsewhere into the page.
    note = {"body": "Checked with the warehouse.", "visibility": "internal"}
    assert admin.post(f"/cases/{case['id']}/messages", note).status_code == 201
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.locator("#timeline-list")).to_contain_text("Checked with the warehouse.")
    _clean(page, console)

    # The policy really is enforced: an injected inline script is blocked and reported.
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__ran=1\">')")
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert any("script-src" in v for v in page.evaluate("window.__violations"))


def test_the_portal_and_the_help_form_load_without_a_violation(admin, watched):  # type: ignore[no-untyped-def]
    page, console = watched
    _goto(page, "/help")
    expect(page.get_by_role("button")).not_to_have_count(0)
    page.get_by_label(re.compile("e-mail", re.I)).first.fill("ann@example.com")
    _clean(page, console)

    case = admin.post("/cases", {"customer": {"emails": ["kai@example.com"]}, "body": "Where is it?"}).json()
    ack = next(
        m for m in admin.get("/outbox", case_id=case["id"]).json()["items"] if m["kind"] == "acknowledgement"
    )
    portal = re.search(r"https?://[^/\s]+(/portal/\S+)", ack["body"]).group(1)  # type: ignore[union-attr]
    _goto(page, portal)
    expect(page.get_by_role("heading", name="Where is it?")).to_be_visible()
    _clean(page, console)


def test_the_interactive_api_docs_get_their_own_policy_without_a_violation(watched):  # type: ignore[no-untyped-def]
    """Swagger UI comes from its CDN and starts inline: only its page allows that."""
    page, _console = watched
    response = page.goto("/api/v1/docs")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy and "frame-ancestors 'none'" in policy
    assert page.evaluate("window.__violations") == []
