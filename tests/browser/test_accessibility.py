"""The customer's pages pass axe-core with no serious or critical violation."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.browser.test_help_and_portal import ask_for_help, follow_emailed_link

AXE = Path(
    os.environ.get(
        "OWNWELL_AXE_JS",
        Path(__file__).resolve().parents[2] / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js",
    )
)


def _serious_violations(page: Page) -> list[str]:
    if not AXE.exists():
        raise AssertionError(f"axe-core is not installed at {AXE}; run scripts/test once (it installs it)")
    # Evaluated over the DevTools protocol: a <script> tag would be refused by the page's CSP.
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("async () => await axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_help_form_thanks_and_case_page_have_no_serious_violations(admin, page: Page, width: int):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/help")
    assert _serious_violations(page) == []
    ask_for_help(page, f"axe{width}@example.com", "The parcel never came.")
    assert _serious_violations(page) == []  # the thank-you page
    follow_emailed_link(admin, page, f"axe{width}@example.com")
    page.wait_for_url("**/portal/**")
    assert _serious_violations(page) == []


@pytest.mark.parametrize("width", [1280, 390])
def test_interactive_portal_pages_have_no_serious_violations(admin, page: Page, clock, width: int):
    """The case page with its forms (also showing a validation error), the confirm-and-rate form
    of a resolved case, and the expired-link page with its fresh-link form."""
    page.set_viewport_size({"width": width, "height": 844})
    case = admin.post(
        "/cases", {"customer": {"name": "Axe Tester", "emails": [f"portal{width}@example.com"]}, "body": "Hi"}
    ).json()
    due = (clock.now() + timedelta(days=1)).isoformat()
    admin.post(f"/cases/{case['id']}/commitments", {"text": "Call you back", "due_at": due})
    page.goto(case["portal_url"])
    assert _serious_violations(page) == []
    page.get_by_role("button", name="Send message").click()  # empty: the error is shown in place
    page.wait_for_selector("#body-error")
    assert _serious_violations(page) == []
    page.get_by_label("Your proposal").fill("A refund")
    page.get_by_role("button", name="Send my proposal").click()
    page.wait_for_selector(".portal-quote")
    assert _serious_violations(page) == []
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Called and sorted."})
    page.goto(case["portal_url"])
    page.get_by_role("button", name="Send my answer").click()  # unanswered: errors in place
    page.wait_for_selector("#fixed-error")
    assert _serious_violations(page) == []
    clock.advance(timedelta(days=40))
    page.goto(case["portal_url"])
    page.wait_for_selector("text=E-mail me a fresh link")
    assert _serious_violations(page) == []
    page.get_by_label("Your e-mail address").fill(f"portal{width}@example.com")
    page.get_by_role("button", name="E-mail me a fresh link").click()
    page.wait_for_selector("text=Check your inbox")
    assert _serious_violations(page) == []
