"""The supervisor and admin pages of the staff web app over HTTP: settings (admin only, API
validation shown per field), the approvals queue, the outbox with "send again", incidents and
the department board. The browser tests (tests/browser/test_staff_*.py) walk the same pages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ownwell.db import unit_of_work
from ownwell.notifications import repository as outbox_repository
from ownwell.notifications.delivery import deliver_batch
from ownwell.notifications.models import OutboxStatus
from ownwell.notifications.senders import DeliveryError
from ownwell.staff.models import Role
from ownwell.worker import run_jobs
from tests.staff_web import make_staff, web_session_for


class Refusing:
    """A sender whose server refuses every message for good."""

    def send(self, message):  # type: ignore[no-untyped-def]
        raise DeliveryError("550 mailbox unavailable", permanent=True)

    def close(self) -> None:
        pass


def _case(admin, *, subject="Broken lamp", email="mia@example.com", **extra):  # type: ignore[no-untyped-def]
    body = {
        "customer": {"name": "Mia Jensen", "emails": [email]},
        "subject": subject,
        "body": "It arrived broken.",
        "channel": "email",
        "kind": "complaint",
        **extra,
    }
    answer = admin.post("/cases", body)
    assert answer.status_code == 201, answer.text
    return answer.json()


# --- Settings -------------------------------------------------------------------------------


def test_an_agent_gets_a_403_page_for_settings(client, admin, session_factory, clock):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", role=Role.agent)
    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    page = client.get("/settings")
    assert page.status_code == 403
    assert "only an admin" in page.text
    refused = client.post(
        "/settings/departments", data={"csrf": csrf, "name": "Sneaky"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert admin.get("/departments").json()["items"] == []


def test_admin_adds_a_department_and_a_person_and_sets_authority(client, admin, session_factory, clock):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Ada Web", email="adaweb@ownwell.test", role=Role.admin)
    csrf = web_session_for(client, session_factory, clock, "adaweb@ownwell.test")
    made = client.post(
        "/settings/departments", data={"csrf": csrf, "name": "  Shipping  "}, follow_redirects=False
    )
    assert made.status_code == 303
    shipping = admin.get("/departments").json()["items"][0]
    assert shipping["name"] == "Shipping"

    twice = client.post("/settings/departments", data={"csrf": csrf, "name": "shipping"})
    assert twice.status_code == 409
    assert "exists already" in twice.text and 'aria-invalid="true"' in twice.text

    bad = client.post(
        "/settings/staff",
        data={
            "csrf": csrf,
            "name": "Lea",
            "email": "not-an-address",
            "role": "agent",
            "password": "long enough pw",
            "refund": "-5",
        },
    )
    assert bad.status_code == 422
    assert 'id="staff-email"' in bad.text and 'value="not-an-address"' in bad.text  # what was typed stays
    assert "staff-authority-refund-error" in bad.text
    assert len(admin.get("/staff").json()["items"]) == 2  # nobody half-added
    unknown = client.post(
        "/settings/staff",
        data={
            "csrf": csrf,
            "name": "Lea",
            "email": "lea@ownwell.test",
            "role": "agent",
            "password": "long enough pw",
            "department_ids": [shipping["id"], "dep_nope"],
        },
    )
    assert unknown.status_code == 422
    assert 'id="staff-department_ids-error"' in unknown.text and "Item 2: no department" in unknown.text

    good = client.post(
        "/settings/staff",
        data={
            "csrf": csrf,
            "name": "Lea Lind",
            "email": "lea@ownwell.test",
            "role": "supervisor",
            "password": "long enough pw",
            "department_ids": [shipping["id"]],
            "refund": "75",
            "goodwill": "10.5",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    lea = next(s for s in admin.get("/staff").json()["items"] if s["email"] == "lea@ownwell.test")
    assert lea["role"] == "supervisor" and lea["department_ids"] == [shipping["id"]]
    assert lea["authority"] == {
        "refund": "75.00",
        "credit": "0.00",
        "replacement": "0.00",
        "goodwill": "10.50",
    }

    changed = client.post(
        f"/settings/staff/{lea['id']}/authority",
        data={"csrf": csrf, "refund": "200", "credit": "5", "replacement": "0", "goodwill": "0"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert admin.get(f"/staff/{lea['id']}").json()["authority"]["refund"] == "200.00"

    cadence = client.post("/settings/cadence/complaint", data={"csrf": csrf, "update_every_minutes": "2"})
    assert cadence.status_code == 422 and "cadence-complaint-update_every_minutes-error" in cadence.text
    saved = client.post(
        "/settings/cadence/request",
        data={"csrf": csrf, "update_every_minutes": "180"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    kinds = {p["kind"]: p["update_every_minutes"] for p in admin.get("/cadence-policies").json()}
    assert kinds["request"] == 180 and kinds["complaint"] == 24 * 60


# --- Outbox -----------------------------------------------------------------------------------


def test_a_failed_message_is_sent_again_from_the_outbox(client, admin, session_factory, clock, settings, app):  # type: ignore[no-untyped-def]
    # A mail server is configured (so mail is queued, not held), and it refuses our message.
    app.state.settings = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": 1})
    make_staff(session_factory, clock, name="Sue Super", email="sue@ownwell.test", role=Role.supervisor)
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", role=Role.agent)
    case = _case(admin)
    deliver_batch(session_factory, senders={"email": Refusing()}, clock=clock, settings=app.state.settings)
    failed = admin.get("/outbox", status="failed").json()["items"]
    assert len(failed) == 1 and failed[0]["last_error"] == "550 mailbox unavailable"

    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    page = client.get("/outbox")
    assert "550 mailbox unavailable" in page.text and "Send again" not in page.text  # agents only look
    assert client.post(f"/outbox/{failed[0]['id']}/retry", data={"csrf": csrf}).status_code == 403

    client.cookies.clear()
    csrf = web_session_for(client, session_factory, clock, "sue@ownwell.test")
    assert "Send again" in client.get("/outbox").text
    clock.advance(timedelta(minutes=3))
    sent = client.post(f"/outbox/{failed[0]['id']}/retry", data={"csrf": csrf}, follow_redirects=False)
    assert sent.status_code == 303
    again = admin.get("/outbox", case_id=case["id"]).json()["items"][0]
    assert again["status"] == "queued"
    assert datetime.fromisoformat(again["next_attempt_at"]) == clock.now()
    timeline = admin.get(f"/cases/{case['id']}/timeline").json()["items"]
    retried = [e for e in timeline if e["kind"] == "message_retried"]
    assert retried and retried[0]["visibility"] == "internal" and retried[0]["actor"]["name"] == "Sue Super"
    # Sending it again twice is refused: it is queued now.
    twice = client.post(f"/outbox/{failed[0]['id']}/retry", data={"csrf": csrf})
    assert twice.status_code == 409
    assert client.get("/outbox?status=nonsense").status_code == 422


def test_a_held_message_cannot_be_sent_again_without_a_server(client, admin, session_factory, clock):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Sue Super", email="sue@ownwell.test", role=Role.supervisor)
    case = _case(admin)
    held = admin.get("/outbox", case_id=case["id"]).json()["items"][0]
    assert held["status"] == "held"
    csrf = web_session_for(client, session_factory, clock, "sue@ownwell.test")
    answer = client.post(f"/outbox/{held['id']}/retry", data={"csrf": csrf})
    assert answer.status_code == 409 and "no email server is configured" in answer.text
    with unit_of_work(session_factory) as session:
        assert outbox_repository.get(session, held["id"]).status == OutboxStatus.held


# --- Approvals --------------------------------------------------------------------------------


def _pending_offer(admin, session_factory, clock, settings):  # type: ignore[no-untyped-def]
    """Care's agent Noor proposes a refund above her authority on a case Care caused."""
    make_staff(
        session_factory,
        clock,
        name="Noor Agent",
        email="noor@ownwell.test",
        departments=["Care"],
        authority={"refund": 50},
    )
    care = admin.get("/departments").json()["items"][0]
    case = _case(admin, subject="Cracked kettle", caused_by_department_id=care["id"])
    noor = admin.get(f"/staff/{case['owner']['id']}").json()
    assert noor["name"] == "Noor Agent"
    make_staff(
        session_factory,
        clock,
        name="Vera Super",
        email="vera@ownwell.test",
        role=Role.supervisor,
        departments=["Care"],
    )
    make_staff(
        session_factory,
        clock,
        name="Otto Other",
        email="otto@ownwell.test",
        role=Role.supervisor,
        departments=["Billing"],
    )
    with unit_of_work(session_factory) as session:
        from decimal import Decimal

        from ownwell.cases import repository as case_repository
        from ownwell.offers import service as offer_service
        from ownwell.offers.models import OfferType
        from ownwell.staff import repository as staff_repository

        offer = offer_service.propose(
            session,
            case=case_repository.get(session, case["id"]),
            offer_type=OfferType.refund,
            amount=Decimal("120.00"),
            currency="EUR",
            note="Cracked on arrival; waited a week",
            actor=staff_repository.get_staff(session, noor["id"]),
            now=clock.now(),
            settings=settings,
        )
        return case, offer.id


def test_the_approvals_queue_shows_only_what_one_may_decide_and_decides_it(
    client, admin, session_factory, clock, settings
):  # type: ignore[no-untyped-def]
    _, offer_id = _pending_offer(admin, session_factory, clock, settings)
    csrf = web_session_for(client, session_factory, clock, "otto@ownwell.test")
    assert "Nothing is waiting for your decision" in client.get("/approvals").text
    assert client.post(f"/approvals/{offer_id}/approve", data={"csrf": csrf}).status_code == 403

    client.cookies.clear()
    csrf = web_session_for(client, session_factory, clock, "vera@ownwell.test")
    queue = client.get("/approvals").text
    assert "EUR 120.00" in queue or "120.00" in queue
    assert "Cracked on arrival; waited a week" in queue and "Noor Agent" in queue
    no_reason = client.post(f"/approvals/{offer_id}/reject", data={"csrf": csrf, "note": "  "})
    assert no_reason.status_code == 422 and f"note-{offer_id}-error" in no_reason.text
    assert admin.get(f"/offers/{offer_id}").json()["status"] == "pending_approval"

    done = client.post(
        f"/approvals/{offer_id}/approve",
        data={"csrf": csrf, "note": "Fair, go ahead"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    decided = admin.get(f"/offers/{offer_id}").json()
    assert decided["status"] == "approved" and decided["decided_by"]["name"] == "Vera Super"
    assert decided["decision_note"] == "Fair, go ahead"
    assert "Nothing is waiting for your decision" in client.get("/approvals").text
    late = client.post(f"/approvals/{offer_id}/reject", data={"csrf": csrf, "note": "changed my mind"})
    assert late.status_code == 409 and "already approved" in late.text


# --- Incidents and the department board -------------------------------------------------------


def _orders(admin, department_id, count, *, start=1):  # type: ignore[no-untyped-def]
    ids = []
    for n in range(start, start + count):
        answer = admin.post(
            "/orders",
            {
                "external_id": f"A-{n}",
                "customer": {"name": f"Customer {n}", "emails": [f"c{n}@example.com"]},
                "promised_by": "2026-03-10T12:00:00+00:00",
                "department_id": department_id,
            },
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["external_id"])
    return ids


def test_declaring_an_incident_refuses_bad_input_by_field_and_writes_nothing(
    client, admin, session_factory, clock
):  # type: ignore[no-untyped-def]
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Warehouse"],
    )
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    warehouse = admin.get("/departments").json()["items"][0]
    _orders(admin, warehouse["id"], 2)
    sue = admin.get("/staff").json()["items"]
    sue_id = next(s["id"] for s in sue if s["name"] == "Sue Super")

    csrf = web_session_for(client, session_factory, clock, "sam@ownwell.test")
    assert client.get("/incidents/new").status_code == 403
    client.cookies.clear()
    csrf = web_session_for(client, session_factory, clock, "sue@ownwell.test")
    form = {
        "csrf": csrf,
        "title": "Warehouse flood",
        "caused_by_department_id": warehouse["id"],
        "owner_id": sue_id,
        "message": "Water reached the packing hall; your parcel is delayed.",
    }
    nobody = client.post("/incidents", data=form)
    assert nobody.status_code == 422 and 'id="affected-error"' in nobody.text

    unknown = client.post("/incidents", data={**form, "order_numbers": "A-1\nA-404, A-2"})
    assert unknown.status_code == 422
    assert "Item 2: no order with external id &#39;A-404&#39;" in unknown.text
    assert "A-1\nA-404, A-2" in unknown.text  # the pasted list is kept for fixing
    assert admin.get("/incidents").json()["items"] == []

    made = client.post(
        "/incidents", data={**form, "order_numbers": "A-1\nA-2\n", "group_size": "1"}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    incident_id = made.headers["location"].split("/")[2].split("?")[0]
    detail = admin.get(f"/incidents/{incident_id}").json()
    assert detail["affected_count"] == 2 and len(detail["groups"]) == 2
    page = client.get(f"/incidents/{incident_id}")
    assert "Warehouse flood" in page.text and "Water reached the packing hall" in page.text
    assert (
        client.post(f"/incidents/{incident_id}/updates", data={"csrf": csrf, "message": ""}).status_code
        == 422
    )
    assert admin.get(f"/incidents/{incident_id}").json()["update_count"] == 1


def _figures(board: str, department_id: str) -> dict[str, str]:
    row = board.split(f'href="/departments/{department_id}"')[1].split("</tr>")[0]
    return dict(re.findall(r'data-figure="([a-z-]+)">([^<]*)<', row))


def test_the_department_board_counts_what_each_department_caused(
    client, admin, session_factory, clock, settings
):  # type: ignore[no-untyped-def]
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test", departments=["Shipping"])
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Shipping"],
    )
    shipping = admin.get("/departments").json()["items"][0]
    billing = admin.post("/departments", {"name": "Billing"}).json()
    _orders(admin, shipping["id"], 4)
    for subject in ("Late parcel", "Wrong item"):
        _case(admin, subject=subject, caused_by_department_id=shipping["id"])
    promised = _case(admin, subject="Lost parcel", caused_by_department_id=shipping["id"])
    due = (clock.now() + timedelta(hours=1)).isoformat()
    admin.post(f"/cases/{promised['id']}/commitments", {"text": "Trace the parcel", "due_at": due})
    clock.advance(timedelta(hours=2))

    # A supervisor of Shipping reads its error rate (the metrics rules); not Billing's.
    web_session_for(client, session_factory, clock, "sue@ownwell.test")
    board = client.get("/departments").text
    figures = _figures(board, shipping["id"])
    row = board.split(f'href="/departments/{shipping["id"]}"')[1].split("</tr>")[0]
    assert (figures["open"], figures["proactive"], figures["overdue"]) == ("3", "0", "1")
    assert "750.0" in row  # 3 cases per 4 orders = 750 per 1,000
    billing_row = board.split(f'href="/departments/{billing["id"]}"')[1].split("</tr>")[0]
    assert "error-rate" not in billing_row and "no orders" not in billing_row
    page = client.get(f"/departments/{shipping['id']}").text
    assert "Trace the parcel" in page and "Late parcel" in page and "Wrong item" in page

    # The sweep marks the promise broken: still owed to the customer while the case is open...
    run_jobs(session_factory, clock, settings)
    assert admin.get(f"/cases/{promised['id']}/commitments").json()[0]["status"] == "broken"
    assert _figures(client.get("/departments").text, shipping["id"])["overdue"] == "1"
    # ...and dealt with once the case is resolved.
    resolved = admin.post(f"/cases/{promised['id']}/resolve", {"summary": "Found and delivered."})
    assert resolved.status_code == 200, resolved.text
    assert _figures(client.get("/departments").text, shipping["id"])["overdue"] == "0"


def test_customers_picked_by_search_are_the_affected_ones(client, admin, session_factory, clock):  # type: ignore[no-untyped-def]
    make_staff(
        session_factory,
        clock,
        name="Sue Super",
        email="sue@ownwell.test",
        role=Role.supervisor,
        departments=["Warehouse"],
    )
    warehouse = admin.get("/departments").json()["items"][0]
    _orders(admin, warehouse["id"], 3)
    csrf = web_session_for(client, session_factory, clock, "sue@ownwell.test")
    by_name = client.get(
        "/incidents/customer-search", params={"q": "customer 2"}, headers={"HX-Request": "true"}
    )
    assert by_name.status_code == 200 and "Customer 2" in by_name.text and "Customer 1" not in by_name.text
    by_email = client.get("/incidents/customer-search", params={"q": "C3@Example.com"}).text
    assert "Customer 3" in by_email and "Customer 1" not in by_email
    assert "No customer matches" in client.get("/incidents/customer-search", params={"q": "100%"}).text
    picked = re.findall(r'name="customer_ids" value="([^"]+)"', by_name.text + by_email)
    assert len(picked) == 2
    sue_id = next(s["id"] for s in admin.get("/staff").json()["items"] if s["name"] == "Sue Super")
    made = client.post(
        "/incidents",
        data={
            "csrf": csrf,
            "title": "Courier strike",
            "caused_by_department_id": warehouse["id"],
            "owner_id": sue_id,
            "customer_ids": picked,
            "message": "Our courier is on strike today.",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    incident = admin.get("/incidents").json()["items"][0]
    assert incident["affected_count"] == 2 and incident["title"] == "Courier strike"
