"""Signing staff in from Playwright. Make people with tests.staff_web.make_staff (a password is
set for them), then `signed_in(page, email)`; screenshots go through `shoot(page, name)`."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.staff_web import PASSWORD

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def signed_in(page: Page, email: str, password: str = PASSWORD) -> Page:
    """Sign in through the login form, the way a person does; lands on My day."""
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My day")).to_be_visible()
    return page


def shoot(page: Page, name: str) -> None:
    """docs/screenshots/staff-<name>-laptop.png and -phone.png of the current page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-picture
    for label, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"staff-{name}-{label}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)
