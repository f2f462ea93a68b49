"""The public help form without a browser: its cookie, its token and the per-IP limit."""

from __future__ import annotations

import re


def _token(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/help")
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert match
    return match.group(1)


def test_get_sets_an_httponly_lax_cookie_and_a_bound_token(admin, client):
    page = client.get("/help")
    cookie = page.headers["set-cookie"].lower()
    assert "ow_csrf=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert 'autocomplete="email"' in page.text
    token = _token(client)
    client.cookies.clear()
    stolen = client.post("/help", data={"csrf": token, "email": "a@example.com", "what": "hi"})
    assert stolen.status_code == 403  # a token is worth nothing without its cookie


def test_per_ip_limit_counts_every_address(admin, client):
    token = _token(client)
    for n in range(20):
        sent = client.post("/help", data={"csrf": token, "email": f"p{n}@example.com", "what": "hello"})
        assert sent.status_code == 200, sent.text
    refused = client.post("/help", data={"csrf": token, "email": "new@example.com", "what": "hello"})
    assert refused.status_code == 429 and "Please wait ten minutes" in refused.text


def test_words_are_kept_escaped_when_the_form_comes_back(admin, client):
    token = _token(client)
    back = client.post("/help", data={"csrf": token, "email": "", "what": "<script>x()</script>"})
    assert back.status_code == 422
    assert "&lt;script&gt;x()&lt;/script&gt;" in back.text and "<script>x()" not in back.text
    assert "Please give your e-mail address" in back.text
