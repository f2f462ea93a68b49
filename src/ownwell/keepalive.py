"""A keep-alive connection is closed after a number of requests, as nginx (`keepalive_requests`)
and Apache (`MaxKeepAliveRequests`) do.

With `ownwell serve --workers N`, a connection stays with the web process that accepted it. A
few busy keep-alive clients (an integration, a proxy's upstream pool) that happened to connect at
the same moment can all land on one process while the others idle. Closing each connection now
and then lets the client reconnect, and the next connection goes to whichever process is free
to accept it first, so the load spreads over the processes. HTTP/1.1 clients reconnect on
`Connection: close` by themselves; one reconnect per hundred requests costs about 1 %.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS_PER_CONNECTION = 100
# Connections this process has seen but not yet closed; past this many, forget them all (a
# forgotten connection starts counting again, which only delays its close).
_REMEMBERED = 10_000


class KeepAliveLimit:
    def __init__(self, app: ASGIApp, *, limit: int = REQUESTS_PER_CONNECTION) -> None:
        self.app = app
        self.limit = limit
        self._served: dict[Any, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        # Behind a reverse proxy, uvicorn puts the forwarded address with port 0 here: that is
        # not one connection, and the proxy's own keep-alive limit applies.
        if scope["type"] != "http" or not client or not client[1]:
            await self.app(scope, receive, send)
            return
        key = tuple(client)  # (address, port): one TCP connection while it is open
        served = self._served.get(key, 0) + 1
        if served < self.limit:
            if len(self._served) >= _REMEMBERED:
                self._served.clear()
            self._served[key] = served
            await self.app(scope, receive, send)
            return
        self._served.pop(key, None)

        async def send_then_close(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_then_close)
