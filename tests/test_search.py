"""Staff search (`GET /cases?q=`) finds a case by every route a person might type — case id, any
identifier of the customer in another spelling, the name, the order number, a word said later
in the conversation — and lists the newest matches first, each once (web.queries)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ownwell.db import unit_of_work
from ownwell.web import queries
from tests.staff_web import make_staff, web_session_for


def _case(admin, customer: dict, subject: str, body: str, order_id: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    answer = admin.post(
        "/cases",
        {"customer": customer, "subject": subject, "body": body, "kind": "complaint", "order_id": order_id},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _found(client, query: str, scope: str = "active") -> str:  # type: ignore[no-untyped-def]
    answer = client.get("/cases", params={"q": query, "scope": scope})
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.parametrize("recent_rows", [queries.RECENT_ROWS, (1,)], ids=["among-newest", "among-older"])
def test_search_finds_a_case_by_each_route(client, admin, session_factory, clock, monkeypatch, recent_rows):
    # With 1, every partial match is looked for among the older rows: the second path.
    monkeypatch.setattr(queries, "RECENT_ROWS", recent_rows)
    rosa = {
        "name": "Rosa Díaz",
        "emails": ["rosa@example.com"],
        "phones": ["+44 20 7946 0000"],
        "external_ids": {"shop": "S-77"},
    }
    shipping = admin.post("/departments", {"name": "Shipping"}).json()
    rosa_id = admin.post("/customers", rosa).json()["id"]
    order = admin.post(
        "/orders",
        {
            "external_id": "A-1001",
            "customer_id": rosa_id,
            "promised_by": "2026-03-09T12:00:00Z",
            "department_id": shipping["id"],
        },
    ).json()
    case = _case(admin, rosa, "Where is my parcel", "Ordered a lamp last week.", order_id=order["id"])
    admin.post(f"/cases/{case['id']}/messages", {"body": "The courier left it with a neighbour at no. 12"})
    other = _case(admin, {"name": "Otto Berg", "emails": ["otto@example.com"]}, "Invoice", "Wrong VAT")
    make_staff(session_factory, clock, name="Sam Agent", email="sam@ownwell.test")
    web_session_for(client, session_factory, clock, "sam@ownwell.test")

    link, other_link = f'href="/cases/{case["id"]}"', f'href="/cases/{other["id"]}"'
    routes = {
        "case id": case["id"],
        "e-mail in capitals": "ROSA@Example.COM",
        "phone spelt with dashes": "+44 20-7946-0000",
        "shop id": "S-77",
        "shop id with its system": "SHOP:S-77",
        "part of the name": "rosa d",
        "order number in lower case": "a-1001",
        "a word from a later message": "NEIGHBOUR",
        "a word from the subject": "parcel",
    }
    for route, query in routes.items():
        page = _found(client, query)
        assert page.count(link) == 1, route  # found, and listed once
        assert other_link not in page, route
    assert link not in _found(client, "nothing like this")
    assert other_link in _found(client, "vat") and link not in _found(client, "vat")


@pytest.mark.parametrize("recent_rows", [queries.RECENT_ROWS, (1, 2)], ids=["among-newest", "among-older"])
def test_search_lists_the_newest_matches_first(admin, session_factory, clock, monkeypatch, recent_rows):
    monkeypatch.setattr(queries, "RECENT_ROWS", recent_rows)
    ids = []
    for n in range(5):
        customer = {"name": f"Customer {n}", "emails": [f"c{n}@example.com"]}
        ids.append(_case(admin, customer, f"Question {n}", f"My parcel number {n} is late")["id"])
        clock.advance(timedelta(minutes=1))
    with unit_of_work(session_factory) as session:
        rows = queries.search_cases(session, "parcel", active_only=True, limit=3)
        assert [case.id for case, _ in rows] == sorted(ids, reverse=True)[:3]
        # Every route at once (subject, body, customer name): still each case once.
        rows = queries.search_cases(session, "Customer 1", active_only=True, limit=3)
        assert [case.id for case, _ in rows] == [ids[1]]
