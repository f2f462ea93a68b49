"""The CSV exports in a real browser: an admin clicks "Export CSV" on the case search page, the
insights page and the recurring-issues page, and each downloaded file holds what the page is
about. Screenshots docs/screenshots/exports-*.png show where the links are."""

from __future__ import annotations

import csv
import io

from playwright.sync_api import Page, expect

from ownwell.staff.models import Role
from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.staff import SCREENSHOTS, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff


def shoot(page: Page, name: str) -> None:
    """docs/screenshots/exports-<name>-laptop.png and -phone.png: the top of the page, where the
    export link is."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    for label, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"exports-{name}-{label}.png"))
    page.set_viewport_size(LAPTOP)


def download(page: Page, name: str) -> tuple[str, list[dict[str, str]]]:
    """Click the page's "Export CSV" link; the file's suggested name and its rows."""
    with page.expect_download() as started:
        page.get_by_role("link", name="Export CSV").click()
    got = started.value
    with open(got.path(), encoding="utf-8", newline="") as file:
        text = file.read()
    assert got.suggested_filename.startswith(f"{name}-") and got.suggested_filename.endswith(".csv")
    return got.suggested_filename, list(csv.DictReader(io.StringIO(text)))


def test_an_admin_downloads_the_case_list_the_metrics_and_the_recurring_issues(  # type: ignore[no-untyped-def]
    admin, page: Page, session_factory, clock, recurring_issue
):
    make_staff(session_factory, clock, name="Ada Boss", email="boss@ownwell.test", role=Role.admin)
    made = []
    for n, subject in enumerate(["Parcel is late", "=SUM(A1:A9) refund please", "Wrong size"]):
        answer = admin.post(
            "/cases",
            {
                "customer": {"name": f"Customer {n}", "emails": [f"c{n}@example.com"]},
                "subject": subject,
                "body": subject,
            },
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    resolved = admin.post(f"/cases/{made[2]['id']}/resolve", {"summary": "Exchanged."})
    assert resolved.status_code == 200, resolved.text
    recurring_issue("Parcel lockers jammed")

    signed_in(page, "boss@ownwell.test")
    page.goto("/cases?scope=active")
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
    shoot(page, "cases")
    assert serious_violations(page) == []
    name, rows = download(page, "cases")
    assert name == f"cases-{clock.now().date().isoformat()}.csv"
    # Open cases only, as the page shows; the formula-like subject comes out as text.
    assert [r["id"] for r in rows] == [made[1]["id"], made[0]["id"]]
    assert rows[0]["subject"] == "'=SUM(A1:A9) refund please"
    assert rows[1]["customer_name"] == "Customer 0"

    page.goto("/insights")
    shoot(page, "insights")
    assert serious_violations(page) == []
    _name, metrics = download(page, "metrics")
    assert {"proactive_ratio", "promise_kept_rate", "csat"} <= {r["metric"] for r in metrics}
    assert len({(r["since"], r["until"]) for r in metrics}) == 9  # eight weeks, then all together

    page.goto("/insights/recurring")
    shoot(page, "recurring")
    assert serious_violations(page) == []
    _name, issues = download(page, "recurring-issues")
    assert [r["label"] for r in issues] == ["Parcel lockers jammed"]
