"""Headers every answer carries, whichever part of the app (or middleware) gave it.

- A strict Content-Security-Policy: scripts, styles and images from this origin only, no inline
  script or style, no eval (htmx is configured with `allowEval: false`), no plugins, no
  `<base>`, forms post only here, and no page may be framed (clickjacking).
- `X-Content-Type-Options: nosniff`: a file is what its content type says.
- `Referrer-Policy: no-referrer` everywhere: portal and feedback URLs carry tokens, and a link
  followed from them must not hand the token to another site.
- `Cache-Control: no-store` on everything but static assets (staff pages, the API, the portal
  and feedback pages hold personal data), unless the answer set its own.
- HSTS when the public base URL is https.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's interactive API docs load Swagger UI from its CDN and start it with an inline
# script. The page is the same for everyone and holds no data, so it alone gets this policy.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
STATIC_PREFIX = "/static/"

_ALWAYS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def headers_for(scope: Scope, present: set[bytes]) -> list[tuple[bytes, bytes]]:
    """The headers to add to an answer to `scope` that already has the headers `present`."""
    headers = [(n, v) for n, v in _ALWAYS if n not in present or n == b"content-security-policy"]
    # (A CSP the answer set itself, a sandbox for a download, say, is enforced as well.)
    docs = scope["app"].docs_url
    if docs and scope["path"].startswith(docs):
        headers = [(n, DOCS_CSP.encode() if n == b"content-security-policy" else v) for n, v in headers]
    if not scope["path"].startswith(STATIC_PREFIX) and b"cache-control" not in present:
        headers.append((b"cache-control", b"no-store"))
    if str(scope["app"].state.settings.base_url).startswith("https://"):
        headers.append((b"strict-transport-security", HSTS.encode()))
    return headers


class SecurityHeaders:
    """Adds `headers_for` to every answer given inside it. Starlette answers an unexpected
    exception outside all middleware, so the app's handler for those adds them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += headers_for(scope, {name.lower() for name, _ in headers})
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
