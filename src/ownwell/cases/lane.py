"""A short way in for the busiest write: `POST /api/v1/cases` from a token seen a moment ago.

Before the command runs, FastAPI matches the path against every route, solves the route's
dependencies and wraps the body: 6 % of an intake's instructions when intakes come one at a
time (bench/RESULTS.md, "an intake lane"). None of it is needed to tell that a request is an
ordinary intake. This middleware takes
the requests FastAPI would answer the ordinary way (a bearer token the process knows, a JSON
body that `CaseIn` accepts) and runs the very same command (`cases.api.take_in`) with the
very same answer.

Everything else goes on to FastAPI untouched, the body replayed as it came: a missing or
unknown token, another content type, a body that is not JSON or does not validate, an over-
large body. So every refusal comes from the one place that makes refusals, with its exact
status, error shape and field name. A command that fails (an unknown department, say) gets the
app's own handler for that error.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ownwell.cases.schemas import CaseIn
from ownwell.db import short_cache
from ownwell.errors import AppError
from ownwell.staff.repository import token_recently_seen
from ownwell.staff.security import hash_token

# Far above any valid intake (a 20,000-character body in JSON); past it, FastAPI decides.
MAX_BODY_BYTES = 256 * 1024
# A body trickled in a byte at a time (or in empty messages) is FastAPI's to read, too.
MAX_MESSAGES = 1024


@dataclass
class LaneCounts:
    """How many intakes took the lane and how many went on to FastAPI (tests read these)."""

    taken: int = 0
    passed_on: int = 0


class IntakeLane:
    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self.path = path
        self.counts = LaneCounts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if not self._known_json_caller(request):
            self.counts.passed_on += 1
            await self.app(scope, receive, send)
            return
        body, complete, rest = await _read_body(receive)
        data = _valid_intake(body) if complete else None
        if data is None:
            self.counts.passed_on += 1
            await self.app(scope, _replaying(body, complete, rest, receive), send)
            return
        self.counts.taken += 1
        from ownwell.cases.api import take_in  # the route's module imports the whole domain

        try:
            response = await take_in(request, data)
        except (AppError, DBAPIError) as exc:
            response = await _handled(scope["app"], request, exc)
        await response(scope, receive, send)

    def _known_json_caller(self, request: Request) -> bool:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return False
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        factory = request.app.state.session_factory
        return token_recently_seen(short_cache(factory), hash_token(token.strip()))


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the prefix a proxy serves the app under."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _read_body(receive: Receive) -> tuple[bytes, bool, Message | None]:
    """The body read so far, whether that is all of it, and the message it stopped at if that
    was not body (the client went away). It stops past MAX_BODY_BYTES or MAX_MESSAGES."""
    chunks: list[bytes] = []
    size = 0
    for _ in range(MAX_MESSAGES):
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False, message
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True, None
        if size > MAX_BODY_BYTES:
            break
    return b"".join(chunks), False, None


def _valid_intake(body: bytes) -> CaseIn | None:
    # As FastAPI reads a JSON body: json.loads, then the model validates the Python value.
    try:
        return CaseIn.model_validate(json.loads(body))
    # JSONDecodeError and UnicodeDecodeError are ValueErrors; JSON nested too deep for the
    # parser is a RecursionError. FastAPI answers each of them.
    except (ValueError, RecursionError, ValidationError):
        return None


def _replaying(body: bytes, complete: bool, rest: Message | None, receive: Receive) -> Receive:
    """`receive` as if nothing had been read from it: the body read so far as one message,
    then the message the reading stopped at, then whatever the client sends next."""
    pending = [{"type": "http.request", "body": body, "more_body": not complete}]
    if rest is not None:
        pending.append(rest)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _handled(app: Any, request: Request, exc: AppError | DBAPIError) -> Response:
    """The answer the app's exception handlers give `exc`, found as Starlette finds it."""
    for cls in type(exc).__mro__:
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            answer = handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer  # type: ignore[no-any-return]
    raise exc
