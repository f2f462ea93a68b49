"""The outbox and the approvals queue in a real browser: a supervisor sends a failed message
again, and approves an offer above an agent's authority."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from ownwell.cases import repository as case_repository
from ownwell.config import Settings
from ownwell.db import unit_of_work
from ownwell.notifications.delivery import deliver_batch
from ownwell.notifications.senders import DeliveryError
from ownwell.offers import service as offer_service
from ownwell.offers.models import OfferType
from ownwell.staff import repository as staff_repository
from ownwell.staff.models import Role
from tests.browser.staff import shoot, signed_in
from tests.browser.test_accessibility import _serious_violations as serious_violations
from tests.staff_web import make_staff


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A mail server is configured, so mail is queued (not held) and can fail.
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 1})


class Refusing:
    def send(self, message):  # type: ignore[no-untyped-def]
        raise DeliveryError("550 5.1.1 mailbox unavailable", permanent=True)

    def close(self) -> None:
        pass


def test_a_supervisor_sends_a_failed_message_again_and_approves_an_offer(  # type: ignore[no-untyped-def]
    admin, page: Page, session_factory, clock, settings
):
    make_staff(
        session_factory,
        clock,
        name="Noor Agent",
        email="noor@ownwell.test",
        departments=["Care"],
        authority={"refund": 50},
    )
    care = admin.get("/departments").json()["items"][0]
    case = admin.post(
        "/cases",
        {
            "customer": {"name": "Kai Lund", "emails": ["kai@example.com"]},
            "subject": "Cracked kettle",
            "body": "My kettle arrived cracked.",
            "channel": "email",
            "kind": "complaint",
            "caused_by_department_id": care["id"],
        },
    ).json()
    make_staff(
        session_factory,
        clock,
        name="Vera Super",
        email="vera@ownwell.test",
        role=Role.supervisor,
        departments=["Care"],
    )
    deliver_batch(session_factory, senders={"email": Refusing()}, clock=clock, settings=settings)
    with unit_of_work(session_factory) as session:
        offer_service.propose(
            session,
            case=case_repository.get(session, case["id"]),
            offer_type=OfferType.refund,
            amount=Decimal("120.00"),
            currency="EUR",
            note="Cracked on arrival; she waited a week already.",
            actor=staff_repository.get_staff(session, case["owner"]["id"]),
            now=clock.now(),
            settings=settings,
        )

    signed_in(page, "vera@ownwell.test")
    page.get_by_role("link", name="Outbox").click()
    message = page.locator(".row", has_text="Cracked kettle")
    expect(message).to_contain_text("550 5.1.1 mailbox unavailable")
    expect(message).to_contain_text("failed")
    shoot(page, "outbox")
    assert serious_violations(page) == []
    message.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("queued")
    page.get_by_role("link", name="Queued").click()
    expect(page.locator(".row", has_text="Cracked kettle")).to_contain_text("queued")
    assert admin.get("/outbox", case_id=case["id"]).json()["items"][0]["status"] == "queued"

    page.get_by_role("link", name="Approvals").click()
    pending = page.locator(".row", has_text="Cracked kettle")
    expect(pending).to_contain_text("Noor Agent")
    expect(pending).to_contain_text("she waited a week already")
    shoot(page, "approvals")
    assert serious_violations(page) == []
    pending.get_by_label("Note").fill("Fair; go ahead.")
    pending.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approved")
    expect(page.get_by_text("Nothing is waiting for your decision.")).to_be_visible()
    offer = admin.get(f"/cases/{case['id']}/offers").json()["items"][0]
    assert offer["status"] == "approved" and offer["decided_by"]["name"] == "Vera Super"
