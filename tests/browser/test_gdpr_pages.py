"""A customer's rights on the Customer 360 page, in a real browser: a supervisor downloads their
data as a ZIP; an admin erases it with a reason and the customer's id typed again, and the page
then says it was erased."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from ownwell.staff.models import Role
from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.staff import SCREENSHOTS, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff


def _shoot(page: Page, name: str) -> None:
    """docs/screenshots/<name>-laptop.png and -phone.png of the current page."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    for label, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(LAPTOP)


def test_a_supervisor_downloads_their_data_and_an_admin_erases_it(
    admin, page: Page, browser: Browser, live_url, session_factory, clock, tmp_path: Path
):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Sue Visor", email="sue@ownwell.test", role=Role.supervisor)
    make_staff(session_factory, clock, name="Ada Web", email="ada.web@ownwell.test", role=Role.admin)
    case = admin.post(
        "/cases",
        {"customer": {"name": "Nora Lindqvist", "emails": ["nora@example.com"]}, "body": "My blender hums"},
    ).json()
    customer_id = case["customer_id"]
    admin.post(f"/customers/{customer_id}/facts", {"text": "Prefers mornings"})

    signed_in(page, "sue@ownwell.test")
    page.goto(f"/customers/{customer_id}")
    data = page.get_by_role("region", name="Their data")
    expect(data.get_by_role("link", name="Download their data")).to_be_visible()
    expect(page.get_by_role("form", name="Erase their personal data")).to_have_count(0)  # admins only
    _shoot(page, "customer-export")
    assert serious_violations(page) == []
    with page.expect_download() as download:
        data.get_by_role("link", name="Download their data").click()
    saved = tmp_path / "export.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        document = json.loads(archive.read("customer.json"))
    assert document["customer"]["name"] == "Nora Lindqvist"
    assert document["customer"]["facts"][0]["text"] == "Prefers mornings"
    assert document["cases"][0]["timeline"][0]["text"] == "My blender hums"

    context = browser.new_context(base_url=live_url, viewport=LAPTOP)
    context.set_default_timeout(10_000)
    as_admin = signed_in(context.new_page(), "ada.web@ownwell.test")
    as_admin.goto(f"/customers/{customer_id}")
    form = as_admin.get_by_role("form", name="Erase their personal data")
    form.get_by_label("Reason").fill("Asked by e-mail, ticket 42")
    form.get_by_label("Type the customer's id").fill("not the id")
    form.get_by_role("button", name="Erase their personal data").click()
    form = as_admin.get_by_role("form", name="Erase their personal data")
    expect(form).to_contain_text(f"Type the customer's id, {customer_id}, to confirm")
    expect(form.get_by_label("Reason")).to_have_value("Asked by e-mail, ticket 42")
    form.get_by_label("Type the customer's id").fill(customer_id)
    _shoot(as_admin, "customer-erase-form")
    form.get_by_role("button", name="Erase their personal data").click()

    expect(as_admin.get_by_role("status")).to_contain_text("Their personal data is erased")
    expect(as_admin.get_by_role("heading", name="Erased customer", level=1)).to_be_visible()
    erased = as_admin.get_by_role("region", name="Personal data erased")
    expect(erased).to_contain_text("by Ada Web")
    expect(erased).to_contain_text("ticket 42")
    expect(as_admin.get_by_text("nora@example.com")).to_have_count(0)
    expect(as_admin.get_by_text("My blender hums")).to_have_count(0)
    expect(as_admin.get_by_role("form", name="Erase their personal data")).to_have_count(0)
    expect(as_admin.get_by_role("region", name="Remember something")).to_have_count(0)
    _shoot(as_admin, "customer-erase-done")
    assert serious_violations(as_admin) == []
    context.close()
