"""Request bodies past a size are refused with 413 before anyone reads them whole.

A declared `Content-Length` over the limit is answered at once, without reading a byte of the
body. A body without one (chunked) is counted as it arrives, and refused as soon as the count
passes the limit: `receive` raises `BodyTooLarge`, which the app's handler for HTTP errors turns
into the API's error shape (or this middleware does, when the reader sits outside FastAPI, as
the intake lane does). The limit is `OWNWELL_MAX_BODY_BYTES` (1 MiB); a multipart upload may be
as large as an intake message (`OWNWELL_INTAKE_MAX_BYTES`)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


def limit_for(scope: Scope) -> int:
    settings = scope["app"].state.settings
    for name, value in scope.get("headers", ()):
        if name == b"content-type" and value.split(b";")[0].strip().lower() == b"multipart/form-data":
            return int(settings.intake_max_bytes)
    return int(settings.max_body_bytes)


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None


async def refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": {"code": "too_large", "message": BodyTooLarge(limit).detail, "field": None}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await refuse(send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, noting_send)
        except BodyTooLarge:
            if started:
                raise
            await refuse(send, limit)
