"""The intake lane (cases.lane): ordinary `POST /cases` requests skip FastAPI's routing and get
the answer the route gives; everything else reaches FastAPI exactly as it was sent."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ownwell.cases.lane import MAX_BODY_BYTES, MAX_MESSAGES, IntakeLane

NEW_CUSTOMER = {"customer": {"emails": ["lane@example.com"]}, "body": "The parcel never came."}


def _lane(app: Any) -> IntakeLane:
    layer = app.middleware_stack  # built at the first request
    while not isinstance(layer, IntakeLane):
        layer = layer.app
    return layer


def test_an_ordinary_intake_takes_the_lane_and_is_answered_as_the_route_answers(admin, app):
    # A token the process has not seen yet goes the route's way, which looks it up.
    first = admin.post("/cases", NEW_CUSTOMER)
    lane = _lane(app)
    assert (lane.counts.taken, lane.counts.passed_on) == (0, 1)
    second = admin.post("/cases", {**NEW_CUSTOMER, "body": "Still nothing."})
    assert (lane.counts.taken, lane.counts.passed_on) == (1, 1)

    for made in (first, second):
        assert made.status_code == 201, made.text
        assert made.headers["content-type"] == "application/json"
        assert int(made.headers["content-length"]) == len(made.content)
        assert made.json() == admin.get(f"/cases/{made.json()['id']}").json()
    assert first.json().keys() == second.json().keys()
    assert second.json()["customer_id"] == first.json()["customer_id"]


def test_a_command_that_fails_in_the_lane_gets_the_apps_error(admin, app):
    admin.post("/cases", NEW_CUSTOMER)  # the token is known from here on
    lane = _lane(app)
    taken = lane.counts.taken
    for field, value in (("caused_by_department_id", "dep_missing"), ("customer_id", "cus_missing")):
        body = {"body": "Hello", field: value} if field == "customer_id" else {**NEW_CUSTOMER, field: value}
        refused = admin.post("/cases", body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == field
    assert lane.counts.taken == taken + 2


def test_what_the_lane_does_not_take_reaches_fastapi_unchanged(admin, app):
    admin.post("/cases", NEW_CUSTOMER)
    lane = _lane(app)
    passed_on = lane.counts.passed_on
    too_long = admin.post("/cases", {**NEW_CUSTOMER, "subject": "x" * 301})
    assert too_long.status_code == 422 and too_long.json()["error"]["field"] == "subject"
    not_json = admin.client.post(
        "/api/v1/cases", content=b"{", headers={**admin.headers, "content-type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    as_text = admin.client.post(
        "/api/v1/cases",
        content=json.dumps(NEW_CUSTOMER),
        headers={**admin.headers, "content-type": "text/plain"},
    )
    assert as_text.status_code == 422
    assert lane.counts.passed_on == passed_on + 3


def _run(lane: IntakeLane, messages: list[dict[str, Any]], **scope: Any) -> list[dict[str, Any]]:
    """Send `messages` through the lane to an app that records what it receives."""
    received: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                return

    lane.app = inner
    incoming = list(messages)

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    scope = {"type": "http", "method": "POST", "path": lane.path, "headers": [], "app": None, **scope}

    async def through() -> None:
        # A caller the lane knows, so that it reads the body before passing it on.
        lane._known_json_caller = lambda request: True  # type: ignore[method-assign]
        await lane(scope, receive, lambda message: asyncio.sleep(0))

    # A thread of its own: browser tests leave an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, through()).result()
    return received


def _body(*pieces: bytes, more: bool = False) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": piece, "more_body": more or i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]


def test_a_body_the_lane_read_in_pieces_reaches_fastapi_whole():
    lane = IntakeLane(None, path="/api/v1/cases")  # type: ignore[arg-type]
    pieces = [b'{"body": "Hel', b'lo", "no_such_field": 1', b"}"]
    assert _run(lane, _body(*pieces)) == _body(b"".join(pieces))
    assert lane.counts.passed_on == 1


def test_an_over_large_body_and_a_client_gone_away_reach_fastapi_as_they_came():
    lane = IntakeLane(None, path="/api/v1/cases")  # type: ignore[arg-type]
    big = b"x" * (MAX_BODY_BYTES // 2 + 1)
    # Past the limit the lane stops reading: what it read goes on as one piece, then the rest.
    sent = _body(b'{"body": "', big, big, b'"}')
    assert _run(lane, sent) == [*_body(b'{"body": "' + big + big, more=True), sent[-1]]
    trickled = _body(*[b" "] * (MAX_MESSAGES + 5), b"{}")
    assert _run(lane, trickled) == [*_body(b" " * MAX_MESSAGES, more=True), *trickled[MAX_MESSAGES:]]
    gone = [*_body(b'{"bo', more=True), {"type": "http.disconnect"}]
    assert _run(lane, gone) == gone


def test_the_lane_matches_the_path_as_the_router_does_under_a_proxy_prefix():
    lane = IntakeLane(None, path="/api/v1/cases")  # type: ignore[arg-type]
    _run(lane, _body(b"{}"), root_path="/ownwell", path="/ownwell/api/v1/cases")
    assert lane.counts.passed_on == 1  # considered: it is the intake's path under /ownwell
    _run(lane, _body(b"{}"), root_path="/api", path="/api/v1/cases")  # that is /v1/cases: a 404
    assert lane.counts.passed_on == 1
