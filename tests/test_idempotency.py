"""`Idempotency-Key`: a client that retries `POST /cases` or `POST /cases/{id}/messages`, because
it never saw the answer, gets the first answer again and nothing is written twice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from sqlalchemy import func, select

from ownwell.cases.models import Case, CaseEvent
from tests.mailsink import free_port

CASE = {
    "customer": {"name": "Rita Ramos", "emails": ["rita@example.com"]},
    "subject": "Parcel never came",
    "body": "It has been two weeks.",
    "channel": "email",
    "kind": "complaint",
}


def count(session_factory, model, **where) -> int:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(session.scalar(query) or 0)


def keyed(admin, key: str):  # type: ignore[no-untyped-def]
    return {**admin.headers, "Idempotency-Key": key}


def test_a_repeated_intake_with_the_same_key_returns_the_same_case_and_stores_one(admin, session_factory):  # type: ignore[no-untyped-def]
    first = admin.client.post("/api/v1/cases", json=CASE, headers=keyed(admin, "order-7-complaint"))
    again = admin.client.post("/api/v1/cases", json=CASE, headers=keyed(admin, "order-7-complaint"))
    unkeyed = admin.client.post("/api/v1/cases", json=CASE, headers=admin.headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert unkeyed.json()["id"] != first.json()["id"]
    assert count(session_factory, Case) == 2


def test_the_same_key_with_another_body_is_refused_naming_the_header(admin, session_factory):  # type: ignore[no-untyped-def]
    admin.client.post("/api/v1/cases", json=CASE, headers=keyed(admin, "k-1"))
    other = admin.client.post(
        "/api/v1/cases", json={**CASE, "subject": "Something else"}, headers=keyed(admin, "k-1")
    )
    bad_key = admin.client.post("/api/v1/cases", json=CASE, headers=keyed(admin, "has spaces"))

    assert other.status_code == 422
    assert other.json()["error"]["field"] == "Idempotency-Key"
    assert bad_key.status_code == 422 and bad_key.json()["error"]["field"] == "Idempotency-Key"
    assert count(session_factory, Case) == 1


def test_a_repeated_reply_with_the_same_key_is_sent_once(admin, session_factory):  # type: ignore[no-untyped-def]
    case = admin.post("/cases", CASE).json()
    reply = {"body": "It is on its way.", "visibility": "customer"}
    path = f"/api/v1/cases/{case['id']}/messages"
    first = admin.client.post(path, json=reply, headers=keyed(admin, "reply-1"))
    again = admin.client.post(path, json=reply, headers=keyed(admin, "reply-1"))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    with session_factory() as session:
        texts = session.scalars(select(CaseEvent.text).where(CaseEvent.case_id == case["id"])).all()
    assert sum("It is on its way." in (t or "") for t in texts) == 1


@pytest.fixture
def live(app) -> Iterator[tuple[str, int]]:  # type: ignore[no-untyped-def]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=10)


def test_a_client_cut_off_before_the_answer_gets_the_same_case_when_it_retries(  # type: ignore[no-untyped-def]
    admin, live, session_factory
):
    import json

    body = json.dumps(CASE).encode()
    token = admin.headers["Authorization"]
    request = (
        f"POST /api/v1/cases HTTP/1.1\r\nHost: {live[0]}\r\nAuthorization: {token}\r\n"
        f"Idempotency-Key: cut-off-1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(live, timeout=10) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_RDWR)  # gone before any answer: a dropped mobile connection
    deadline = time.monotonic() + 30  # real time: the server stores the case in its own thread
    while count(session_factory, Case) == 0:
        assert time.monotonic() < deadline, "the cut-off request was never stored"
        time.sleep(0.05)

    retry = admin.client.post("/api/v1/cases", json=CASE, headers=keyed(admin, "cut-off-1"))

    assert retry.status_code == 201
    assert count(session_factory, Case) == 1
    with session_factory() as session:
        assert retry.json()["id"] == session.scalar(select(Case.id))
