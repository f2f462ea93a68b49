"""Customers are remembered: every identifier, any spelling, preferences and facts."""

from __future__ import annotations


def test_recognised_by_any_identifier_in_any_spelling(admin):
    made = admin.post(
        "/customers",
        {
            "name": "Lena Ito",
            "emails": ["Lena.Ito@Example.com"],
            "phones": ["+44 20 7946 0018"],
            "external_ids": {"Shopify": "A-1001"},
        },
    )
    assert made.status_code == 201, made.text
    customer = made.json()
    assert customer["emails"] == ["lena.ito@example.com"]
    assert customer["phones"] == ["+442079460018"]
    assert customer["external_ids"] == {"shopify": "A-1001"}
    for typed in ("LENA.ITO@example.COM", "+44 (0)20 7946-0018", "+442079460018", "shopify:A-1001", "A-1001"):
        found = admin.get("/customers", identifier=typed).json()["items"]
        assert [c["id"] for c in found] == [customer["id"]], typed

    # A case by phone lands on her, and a new e-mail is learnt instead of asked again.
    case = admin.post(
        "/cases",
        {"customer": {"phones": ["+44 20 7946 0018"], "emails": ["lena@work.example"]}, "body": "Hi"},
    ).json()
    assert case["customer_id"] == customer["id"]
    assert admin.get("/customers", identifier="lena@work.example").json()["items"][0]["id"] == customer["id"]


def test_an_identifier_belongs_to_one_customer(admin):
    admin.post("/customers", {"emails": ["one@example.com"]})
    clash = admin.post("/customers", {"emails": ["ONE@example.com"]})
    assert clash.status_code == 409
    assert clash.json()["error"]["field"] == "emails.0"


def test_preferences_default_and_patch(admin):
    customer = admin.post("/customers", {"emails": ["pref@example.com"]}).json()
    assert customer["name"] == "Pref"
    assert customer["preferences"] == {
        "channel": "email",
        "quiet_hours": None,
        "timezone": "UTC",
        "language": None,
        "topics": [],
        "do_not_contact": False,
    }
    patched = admin.patch(
        f"/customers/{customer['id']}",
        {
            "name": "Pref Erence",
            "phones": ["+1 415 555 0100"],
            "preferences": {
                "channel": "webhook",
                "quiet_hours": {"start": "22:00", "end": "07:00"},
                "timezone": "America/Los_Angeles",
                "language": "en-US",
                "topics": ["shipping"],
            },
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["phones"] == ["+14155550100"] and body["emails"] == ["pref@example.com"]
    assert body["preferences"]["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    bad_zone = admin.patch(f"/customers/{customer['id']}", {"preferences": {"timezone": "Mars/Olympus"}})
    assert bad_zone.status_code == 422 and bad_zone.json()["error"]["field"] == "preferences.timezone"


def test_detail_remembers_facts_and_open_cases(admin):
    customer = admin.post("/customers", {"name": "Sam Lee", "emails": ["sam@example.com"]}).json()
    fact = admin.post(f"/customers/{customer['id']}/facts", {"text": "Prefers calls after 5 pm"})
    assert fact.status_code == 201
    case = admin.post("/cases", {"customer_id": customer["id"], "body": "Where is my order?"}).json()
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    order = admin.post(
        "/orders",
        {
            "external_id": "A-77",
            "customer_id": customer["id"],
            "promised_by": "2026-03-05T18:00:00+00:00",
            "department_id": shipping["id"],
        },
    )
    assert order.status_code == 201, order.text
    detail = admin.get(f"/customers/{customer['id']}").json()
    assert [o["external_id"] for o in detail["orders"]] == ["A-77"]
    assert [f["text"] for f in detail["facts"]] == ["Prefers calls after 5 pm"]
    assert [c["id"] for c in detail["open_cases"]] == [case["id"]]
    assert detail["recent_timeline"][0]["text"] == "Where is my order?"


def test_do_not_contact_sends_nothing_and_says_why(admin):
    admin.post("/customers", {"emails": ["quiet@example.com"], "preferences": {"do_not_contact": True}})
    case = admin.post("/cases", {"customer": {"emails": ["quiet@example.com"]}, "body": "Note this"}).json()
    assert admin.get("/outbox", case_id=case["id"]).json()["items"] == []
    kinds = [e["kind"] for e in admin.get(f"/cases/{case['id']}/timeline").json()["items"]]
    assert "message_suppressed" in kinds


def test_quiet_hours_hold_messages_until_morning(admin):
    # 09:00 UTC is 04:00 in New York, inside 22:00-07:00: the message waits until 07:00 local.
    admin.post(
        "/customers",
        {
            "emails": ["night@example.com"],
            "preferences": {
                "quiet_hours": {"start": "22:00", "end": "07:00"},
                "timezone": "America/New_York",
            },
        },
    )
    case = admin.post(
        "/cases", {"customer": {"emails": ["night@example.com"]}, "body": "Later is fine"}
    ).json()
    message = admin.get("/outbox", case_id=case["id"]).json()["items"][0]
    assert message["next_attempt_at"] == "2026-03-02T12:00:00Z"
