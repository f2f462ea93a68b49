"""Issue #5: a supervisor runs an incident over 50 customers in a real browser — declares it by
pasting order numbers, sees the groups and concierges, posts an update and follows delivery
progress as the worker fans out and sends. Then the department board shows what it caused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from ownwell.config import Settings
from ownwell.notifications.delivery import deliver_batch
from ownwell.notifications.senders import MemorySender
from ownwell.staff.models import Role
from ownwell.worker import run_jobs
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff

AFFECTED = 50


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A mail server is configured: messages are queued and the worker sends them.
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 1})


def _delivered(page: Page, **expected: int) -> None:
    for name, count in expected.items():
        expect(page.locator(f'#delivery tr.total [data-count="{name}"]')).to_have_text(str(count))


def test_a_supervisor_runs_an_incident_over_50_customers(  # type: ignore[no-untyped-def]
    admin, page: Page, session_factory, clock, settings
):
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Warehouse"],
    )
    for name in ("Ari Concierge", "Bo Concierge"):
        make_staff(
            session_factory,
            clock,
            name=name,
            email=f"{name[:2].lower()}@ownwell.test",
            departments=["Warehouse"],
        )
    warehouse = admin.get("/departments").json()["items"][0]
    numbers = []
    for n in range(1, AFFECTED + 1):
        order = admin.post(
            "/orders",
            {
                "external_id": f"W-{n:03}",
                "customer": {"name": f"Customer {n:02}", "emails": [f"c{n}@example.com"]},
                "promised_by": "2026-03-10T12:00:00+00:00",
                "department_id": warehouse["id"],
            },
        )
        assert order.status_code == 201, order.text
        numbers.append(f"W-{n:03}")

    signed_in(page, "sue@ownwell.test")
    page.get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Declare an incident").click()
    page.get_by_label("Title").fill("Flooded warehouse in Leeds")
    page.get_by_label("Caused by").select_option(label="Warehouse")
    page.get_by_label("Customers per concierge").fill("20")
    page.get_by_label("Order numbers").fill("\n".join(numbers[:25]) + "\n" + ", ".join(numbers[25:]))
    page.get_by_label("First message").fill(
        "Water reached our packing hall last night. We are moving your parcel to our Hull site."
    )
    shoot(page, "incident-new")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Declare and notify customers").click()

    expect(page.get_by_role("heading", name="Flooded warehouse in Leeds")).to_be_visible()
    expect(page.locator("[data-affected]")).to_have_text("50")
    groups = page.get_by_role("table").filter(has_text="Concierge")
    expect(groups.locator("tbody tr")).to_have_count(3)  # 20 + 20 + 10
    expect(groups).to_contain_text("Ari Concierge")
    _delivered(page, pending=AFFECTED, sent=0)

    # The worker fans the message out, then sends the first 30.
    run_jobs(session_factory, clock, settings)
    deliver_batch(
        session_factory, senders={"email": MemorySender()}, clock=clock, settings=settings, limit=30
    )
    page.reload()
    _delivered(page, pending=0, sent=30, queued=20, failed=0)

    page.get_by_label("Post an update").fill("Your parcel left Hull this morning; it reaches you tomorrow.")
    page.get_by_role("button", name="Send update").click()
    expect(page.get_by_role("status")).to_contain_text("Update posted")
    expect(page.locator("#updates")).to_contain_text("Your parcel left Hull this morning")
    _delivered(page, pending=AFFECTED, sent=30, queued=20)
    run_jobs(session_factory, clock, settings)
    deliver_batch(
        session_factory, senders={"email": MemorySender()}, clock=clock, settings=settings, limit=200
    )
    page.reload()
    _delivered(page, pending=0, sent=2 * AFFECTED, queued=0)
    shoot(page, "incident")
    assert serious_violations(page) == []
    detail = admin.get(f"/incidents/{page.url.split('/incidents/')[1].split('?')[0].split('#')[0]}").json()
    assert detail["delivery"]["sent"] == 2 * AFFECTED and detail["update_count"] == 2

    # The board: no case opened by the incident itself, 50 orders handled by the Warehouse.
    clock.advance(timedelta(minutes=5))
    page.get_by_role("link", name="Departments").click()
    row = page.get_by_role("row").filter(has_text="Warehouse")
    expect(row.locator('[data-figure="error-rate"]')).to_contain_text("(0 / 50)")
    shoot(page, "departments")
    assert serious_violations(page) == []
    row.get_by_role("link", name="Warehouse").click()
    expect(page.get_by_role("heading", name="Warehouse", exact=True)).to_be_visible()
    shoot(page, "department")
    page.get_by_role("link", name="Incidents").first.click()
    expect(page.get_by_role("heading", name="Incidents", exact=True)).to_be_visible()
    shoot(page, "incidents")
