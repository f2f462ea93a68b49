"""A customer's rights (GDPR art. 15, 17, 20): everything about them leaves as one document that
validates against the schema in the repository; an admin's erasure removes their personal data
from every table (and from SQLite's file and WAL) while every metric stays the same; retention
erases customers who have been quiet for long enough."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import jsonschema_rs
import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, select
from sqlalchemy.engine import make_url

from ownwell.customers import erasure
from ownwell.customers.jobs import erase_inactive
from ownwell.db import unit_of_work
from ownwell.insights.jobs import assign_pending
from ownwell.intake.listener import start_listener
from ownwell.models import metadata
from ownwell.staff.models import Role
from tests.conftest import make_staff_token
from tests.mailsink import free_port
from tests.test_intake_email import CARE, case_from, send

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs/schemas/customer-export.schema.json").read_text())
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')

NAME = "Zephyrine Quillfeather"
EMAIL = "zephyrine.q@example.org"
PHONE = "+33612345678"
PHRASE = "turquoise lamp flickers during thunderstorms"
PDF = b"%PDF-1.4\nreceipt for " + NAME.encode() + b"\n%%EOF\n"


@pytest.fixture
def listener(settings, session_factory, clock, admin):
    controller = start_listener(
        settings.model_copy(update={"mail_from": CARE}), session_factory, clock, port=free_port()
    )
    yield controller
    controller.stop()


@pytest.fixture
def agent(as_token, session_factory, clock):
    return as_token(
        make_staff_token(session_factory, clock, name="Ann Agent", email="ann@acme.test", role=Role.agent)
    )


@pytest.fixture
def supervisor(as_token, session_factory, clock):
    return as_token(
        make_staff_token(
            session_factory, clock, name="Sue Visor", email="sue@acme.test", role=Role.supervisor
        )
    )


def _mail(body: str, *, sender: str = f"{NAME} <{EMAIL}>", subject: str = "My lamp") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = CARE
    message["Subject"] = subject
    message.set_content(body)
    return message


def _path(url: str) -> str:
    return url.removeprefix("http://ownwell.test")


def seed_everywhere(admin, client, listener, session_factory, clock, settings) -> dict:
    """One customer present in every domain: identifiers and facts, an e-mail with a file, a
    reply from the portal, a message to them, an order with events, an incident, a quarantined
    mail from their address and a recurring issue started by their words."""
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    me = admin.get("/staff").json()["items"][0]
    customer = admin.post(
        "/customers",
        {"name": NAME, "emails": [EMAIL], "phones": [PHONE], "external_ids": {"shop": "ZQ-7781"}},
    ).json()
    assert (
        admin.post(f"/customers/{customer['id']}/facts", {"text": f"{NAME} works nights"}).status_code == 201
    )

    mail = _mail(f"Hello, my {PHRASE}. Receipt attached. {NAME}, {PHONE}", subject=f"My {PHRASE}")
    mail.add_attachment(PDF, maintype="application", subtype="pdf", filename="zephyrine-receipt.pdf")
    code, reply = send(listener, mail, sender=EMAIL)
    assert code == 250 and "opened" in reply, reply
    mailed = admin.get(f"/cases/{case_from(reply)}").json()
    assert mailed["customer_id"] == customer["id"]
    answered = admin.post(
        f"/cases/{mailed['id']}/messages",
        {"body": f"Dear {NAME}, which lamp is it?", "visibility": "customer"},
    )
    assert answered.status_code == 201, answered.text
    page = client.get(_path(mailed["portal_url"]))
    csrf = CSRF_RE.search(page.text).group(1)
    replied = client.post(
        _path(mailed["portal_url"]) + "/reply",
        data={"csrf": csrf, "body": f"The {PHRASE} one, call {PHONE}"},
        follow_redirects=False,
    )
    assert replied.status_code == 303

    order = admin.post(
        "/orders",
        {
            "external_id": "SHOP-ZQ-1",
            "customer_id": customer["id"],
            "promised_by": (clock.now() + timedelta(days=2)).isoformat(),
            "department_id": shipping["id"],
        },
    ).json()
    shipped = admin.post(
        f"/orders/{order['id']}/events",
        {"type": "shipped", "occurred_at": clock.now().isoformat(), "note": f"for {NAME}, {PHONE}"},
    )
    assert shipped.status_code in (200, 201), shipped.text
    incident = admin.post(
        "/incidents",
        {
            "title": "Lamp recall",
            "caused_by_department_id": shipping["id"],
            "owner_id": me["id"],
            "message": "We are recalling a batch of lamps.",
            "customer_ids": [customer["id"]],
        },
    )
    assert incident.status_code == 201, incident.text

    held = (
        f"From: not an address\r\nTo: {CARE}\r\nSubject: lamp\r\nMessage-ID: <q1@mail.test>\r\n\r\n"
        f"{NAME} again: the {PHRASE}\r\n"
    ).encode()
    code, reply = send(listener, held, sender=EMAIL)
    assert code == 250 and "held for review" in reply, reply

    api_case = admin.post("/cases", {"customer_id": customer["id"], "body": f"My {PHRASE} again"}).json()
    with unit_of_work(session_factory) as session:
        assert assign_pending(session, now=clock.now(), settings=settings) >= 1
    issue = admin.get(f"/cases/{api_case['id']}").json()["recurring_issue_id"]
    labels = {i["id"]: i["label"] for i in admin.get("/insights/recurring").json()["items"]}
    assert PHRASE in labels[issue]  # the issue is named after their words
    return {"customer": customer, "case": mailed, "issue": issue, "shipping": shipping}


def _text_columns():
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)]
        if columns:
            yield table, columns


def _as_bytes(value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, ensure_ascii=False).encode()


def needles() -> list[bytes]:
    words = [NAME, EMAIL, PHONE, "+33 6 12 34 56 78", PHRASE, "Quillfeather"]
    return sorted({w.encode() for w in words} | {w.lower().encode() for w in words})


def found_in_database(session_factory) -> list[str]:
    """Every (table.column) of every table where any needle occurs, read generically."""
    hits = []
    with unit_of_work(session_factory) as session:
        for table, columns in _text_columns():
            for row in session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    data = _as_bytes(value)
                    hits += [f"{table.name}.{column.name}: {n!r}" for n in needles() if n in data.lower()]
    return hits


def found_in_files(database_url: str) -> list[str]:
    path = Path(make_url(database_url).database)
    hits = []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            data = file.read_bytes()
            hits += [f"{file.name}: {n!r}" for n in needles() if n in data or n in data.lower()]
    return hits


def test_the_erasure_leaves_no_trace_of_the_customer_and_the_metrics_unchanged(
    admin, client, listener, agent, supervisor, session_factory, clock, settings, db
):
    seeded = seed_everywhere(admin, client, listener, session_factory, clock, settings)
    customer = seeded["customer"]
    assert found_in_database(session_factory)  # the search finds them before
    period = {
        "since": (clock.now() - timedelta(days=1)).isoformat(),
        "until": (clock.now() + timedelta(days=1)).isoformat(),
    }
    clock.advance(timedelta(hours=1))
    before = admin.get("/metrics", **period).json()

    for other in (agent, supervisor):
        refused = other.post(f"/customers/{customer['id']}/erase", {"reason": "asked by e-mail"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    missing = admin.post(f"/customers/{customer['id']}/erase", {})
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "reason"
    erased = admin.post(f"/customers/{customer['id']}/erase", {"reason": "asked by e-mail on 5 Dec"})
    assert erased.status_code == 200, erased.text
    assert (
        erased.json()["name"] == "Erased customer"
        and erased.json()["erased_reason"] == "asked by e-mail on 5 Dec"
    )

    assert found_in_database(session_factory) == []
    if db.dialect.name == "sqlite":
        # Closing any descriptor of the file drops this process's SQLite locks (POSIX locks are
        # per process): no connection may be open while the test reads the files.
        db.dispose()
        assert found_in_files(settings.database_url) == []
    after = admin.get("/metrics", **period).json()
    for item in before["disloyalty_risk"]["items"]:
        if item["customer_id"] == customer["id"]:
            item["name"] = "Erased customer"
    assert after == before

    for typed in (EMAIL, PHONE, "shop:ZQ-7781"):
        assert admin.get("/customers", identifier=typed).json()["items"] == []
    record = admin.get(f"/customers/{customer['id']}").json()
    assert record["name"] == "Erased customer" and record["emails"] == [] and record["facts"] == []
    again = admin.post(f"/customers/{customer['id']}/facts", {"text": "Lives at no. 12"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "customer_id"
    readd = admin.patch(f"/customers/{customer['id']}", {"emails": [EMAIL]})
    assert readd.status_code == 409  # a returning person is a new customer
    code, reply = send(listener, _mail("Back again with a new question."), sender=EMAIL)
    assert code == 250 and "opened" in reply, reply
    fresh = admin.get(f"/cases/{case_from(reply)}").json()
    assert fresh["customer_id"] != customer["id"]
    [found] = admin.get("/customers", identifier=EMAIL).json()["items"]
    assert found["id"] == fresh["customer_id"] and found["name"] == NAME


def test_the_export_holds_everything_about_the_customer_and_matches_the_schema(
    admin, client, listener, agent, supervisor, session_factory, clock, settings
):
    seeded = seed_everywhere(admin, client, listener, session_factory, clock, settings)
    case_id = seeded["case"]["id"]
    admin.post(f"/cases/{case_id}/messages", {"body": "Internal: check stock", "visibility": "internal"})
    url = f"/customers/{seeded['customer']['id']}/export"
    assert agent.get(url).status_code == 403
    document = supervisor.get(url)
    assert document.status_code == 200, document.text
    doc = document.json()
    jsonschema_rs.Draft202012Validator(SCHEMA).validate(doc)

    person = doc["customer"]
    assert (person["name"], person["emails"], person["phones"]) == (NAME, [EMAIL], [PHONE])
    assert (
        person["external_ids"] == {"shop": "ZQ-7781"} and person["facts"][0]["text"] == f"{NAME} works nights"
    )
    mailed = next(c for c in doc["cases"] if c["id"] == case_id)
    texts = [e["text"] for e in mailed["timeline"]]
    assert any(PHRASE in t for t in texts) and not any("Internal: check stock" in t for t in texts)
    [pdf] = mailed["attachments"]
    assert (pdf["filename"], pdf["content_type"], pdf["size"]) == (
        "zephyrine-receipt.pdf",
        "application/pdf",
        len(PDF),
    )
    assert any(f"Dear {NAME}, which lamp is it?" in m["body"] for m in doc["messages"])
    [order] = doc["orders"]
    assert order["external_id"] == "SHOP-ZQ-1" and order["events"][0]["note"] == f"for {NAME}, {PHONE}"
    assert [i["title"] for i in doc["incidents"]] == ["Lamp recall"]
    assert admin.get("/customers/cus_nope/export").status_code == 404


def test_every_column_that_can_hold_text_is_named_in_the_erasure_list():
    """A new text, JSON or binary column must be erased or marked non-personal in erasure.COLUMNS."""
    named = set(erasure.COLUMNS)
    present = {
        f"{t.name}.{c.name}"
        for t, columns in _text_columns()
        for c in columns
        if c.name != "id" and not c.foreign_keys  # ids and references hold no one's words
    }
    assert sorted(present - named) == [], "add these columns to ownwell.customers.erasure.COLUMNS"
    assert sorted(named - present) == [], "these columns no longer exist"


def test_retention_erases_customers_quiet_since_the_cutoff_and_keeps_the_others(
    admin, session_factory, clock, settings, caplog
):
    quiet = admin.post(
        "/cases", {"customer": {"name": "Quiet Quentin", "emails": ["qq@example.com"]}, "body": "Hi"}
    )
    clock.advance(timedelta(days=400))
    busy = admin.post(
        "/cases", {"customer": {"name": "Busy Bea", "emails": ["bb@example.com"]}, "body": "Hi"}
    )
    kept = settings.model_copy(update={"retention_days": None})
    with unit_of_work(session_factory) as session:
        assert erase_inactive(session, now=clock.now(), settings=kept) == 0
    timed = settings.model_copy(update={"retention_days": 365})
    with caplog.at_level("INFO", logger="ownwell.customers"), unit_of_work(session_factory) as session:
        assert erase_inactive(session, now=clock.now(), settings=timed) == 1
    assert admin.get(f"/customers/{quiet.json()['customer_id']}").json()["name"] == "Erased customer"
    assert admin.get(f"/customers/{busy.json()['customer_id']}").json()["name"] == "Busy Bea"
    [line] = [r.getMessage() for r in caplog.records if "retention" in r.getMessage()]
    assert quiet.json()["customer_id"] in line and "no activity since" in line
    with unit_of_work(session_factory) as session:
        assert erase_inactive(session, now=clock.now(), settings=timed) == 0  # twice changes nothing
