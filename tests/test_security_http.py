"""Issue #17, the HTTP side: headers, limits, link scopes, settings that refuse unsafe set-ups."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx

from ownwell.cases.models import Case
from ownwell.clock import FrozenClock
from ownwell.db import unit_of_work
from ownwell.worker import run_jobs, run_once
from tests.test_followthrough import _link, _outbox


def _resolved_case_feedback_link(admin) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    case = admin.post("/cases", {"customer": {"emails": ["moe@example.com"]}, "body": "Login fails"}).json()
    admin.post(f"/cases/{case['id']}/resolve", {"summary": "Reset your password link."})
    message = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "resolution")
    return case, _link(message["body"])


# --- feedback links are not portal links ---


def test_a_feedback_link_token_does_not_open_the_portal(admin, client):  # type: ignore[no-untyped-def]
    case, link = _resolved_case_feedback_link(admin)
    token = re.match(r"/feedback/([^?]+)", link).group(1)  # type: ignore[union-attr]
    portal = client.get(f"/portal/{token}")
    assert portal.status_code == 404
    assert "This link has expired" in portal.text
    assert case["subject"] not in portal.text
    page = client.get(link)
    assert page.status_code == 200 and "Is everything solved?" in page.text


def test_a_portal_link_token_does_not_open_the_feedback_page(admin, client):  # type: ignore[no-untyped-def]
    case, _ = _resolved_case_feedback_link(admin)
    ack = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "acknowledgement")
    token = re.search(r"http://ownwell\.test/portal/(\S+)", ack["body"]).group(1)  # type: ignore[union-attr]
    assert client.get(f"/portal/{token}").status_code == 200
    assert client.get(f"/feedback/{token}").status_code == 404


# --- /metrics is not for everyone ---


def test_metrics_are_refused_to_a_client_off_this_machine_when_no_token_is_set(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app, client=("203.0.113.9", 40000), raise_server_exceptions=False) as remote:
        assert remote.get("/metrics").status_code == 403
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        answer = local.get("/metrics")
        assert answer.status_code == 200 and "ownwell_cases" in answer.text
    with TestClient(app, client=("::1", 40000)) as local6:
        assert local6.get("/metrics").status_code == 200


def test_metrics_need_the_bearer_token_when_one_is_set(app, settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    app.state.settings = settings.model_copy(update={"metrics_token": "scrape-me-please"})
    with TestClient(app, client=("127.0.0.1", 40000), raise_server_exceptions=False) as local:
        assert local.get("/metrics").status_code == 401  # loopback is not enough once a token is set
        wrong = local.get("/metrics", headers={"Authorization": "Bearer scrape-me-not"})
        assert wrong.status_code == 401
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        answer = remote.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
        assert answer.status_code == 200 and "ownwell_cases" in answer.text


# --- settings that would send secrets or trust in the clear are refused at start-up ---


def test_a_webhook_url_without_a_secret_is_refused_at_start_up(monkeypatch):  # type: ignore[no-untyped-def]
    import pytest
    from pydantic import ValidationError

    from ownwell.config import Settings

    monkeypatch.setenv("OWNWELL_WEBHOOK_URL", "https://gateway.example/sms")
    monkeypatch.delenv("OWNWELL_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ValidationError, match="OWNWELL_WEBHOOK_SECRET"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("OWNWELL_WEBHOOK_SECRET", "a-long-random-secret")
    assert Settings(_env_file=None).webhook_secret == "a-long-random-secret"  # type: ignore[call-arg]


def test_an_smtp_login_without_starttls_is_refused_unless_explicitly_allowed(monkeypatch):  # type: ignore[no-untyped-def]
    import pytest
    from pydantic import ValidationError

    from ownwell.config import Settings

    monkeypatch.setenv("OWNWELL_SMTP_HOST", "mail.example")
    monkeypatch.setenv("OWNWELL_SMTP_USER", "care")
    monkeypatch.setenv("OWNWELL_SMTP_PASSWORD", "hunter2")
    with pytest.raises(ValidationError, match="OWNWELL_SMTP_STARTTLS"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("OWNWELL_SMTP_STARTTLS", "1")
    assert Settings(_env_file=None).smtp_starttls  # type: ignore[call-arg]
    monkeypatch.setenv("OWNWELL_SMTP_STARTTLS", "0")
    monkeypatch.setenv("OWNWELL_SMTP_ALLOW_PLAINTEXT_AUTH", "1")
    assert Settings(_env_file=None).smtp_user == "care"  # type: ignore[call-arg]


# --- webhooks are signed with the time of sending ---


class _Receiver(BaseHTTPRequestHandler):
    """A gateway that checks the signature as our docs tell integrators to, on its own clock."""

    secret = b"s3cret"
    clock: FrozenClock
    received: list[tuple[dict[str, str], bytes, int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        fields = dict(part.split("=", 1) for part in self.headers.get("Ownwell-Signature", "").split(","))
        expected = hmac.new(self.secret, fields.get("t", "").encode() + b"." + body, hashlib.sha256)
        fresh = abs(int(self.clock.now().timestamp()) - int(fields.get("t", "0"))) <= 300
        ok = fresh and hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))
        status = 202 if ok else 401
        _Receiver.received.append((dict(self.headers), body, status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_a_webhook_carries_a_timestamped_signature_and_a_replay_later_is_refused(
    admin, session_factory, clock, settings
):  # type: ignore[no-untyped-def]
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.clock = clock
    _Receiver.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/sms"
    try:
        hooked = settings.model_copy(update={"webhook_url": url, "webhook_secret": "s3cret"})
        admin.post("/customers", {"phones": ["+44 7700 900123"], "preferences": {"channel": "webhook"}})
        case = admin.post("/cases", {"customer": {"phones": ["+447700900123"]}, "body": "Text me"}).json()
        run_jobs(session_factory, clock, hooked)
        run_once(session_factory, clock, hooked)
        [(headers, body, status)] = _Receiver.received
        assert status == 202
        assert headers["Ownwell-Signature"].startswith(f"t={int(clock.now().timestamp())},v1=")
        assert admin.get("/outbox", case_id=case["id"]).json()["items"][0]["status"] == "sent"

        clock.advance(timedelta(minutes=10))  # someone who captured it sends it again
        replay = httpx.post(url, content=body, headers={"Ownwell-Signature": headers["Ownwell-Signature"]})
        assert replay.status_code == 401
        tampered = httpx.post(
            url, content=body + b" ", headers={"Ownwell-Signature": headers["Ownwell-Signature"]}
        )
        assert tampered.status_code == 401
    finally:
        server.shutdown()


def test_the_signing_helper_verifies_its_own_format_and_refuses_stale_or_forged_ones():
    from ownwell.notifications.signing import signature, verify

    header = signature("s3cret", b'{"a":1}', timestamp=1_700_000_000)
    assert verify("s3cret", header, b'{"a":1}', now=1_700_000_100)
    assert not verify("s3cret", header, b'{"a":1}', now=1_700_000_000 + 301)
    assert not verify("other", header, b'{"a":1}', now=1_700_000_000)
    assert not verify("s3cret", header, b'{"a":2}', now=1_700_000_000)
    assert not verify("s3cret", "v1=abc", b'{"a":1}', now=1_700_000_000)


# --- the data folder is private ---


def test_a_first_start_makes_the_data_folder_0700_and_the_database_and_secret_0600(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    import os
    import stat

    from sqlalchemy import text
    from typer.testing import CliRunner

    from ownwell.cli import app as cli
    from ownwell.config import get_settings
    from ownwell.db import make_engine

    monkeypatch.chdir(tmp_path)
    for name in ("OWNWELL_DATABASE_URL", "OWNWELL_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    old_umask = os.umask(0o022)  # a usual umask: files 0644 and folders 0755 unless told otherwise
    get_settings.cache_clear()
    try:
        settings = get_settings()
        settings.resolved_secret_key()  # what `ownwell serve` does first, then the migrations
        assert CliRunner().invoke(cli, ["db", "upgrade"]).exit_code == 0
        engine = make_engine(settings.database_url)
        with engine.begin() as connection:  # WAL and SHM exist while a connection is open
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
            data = tmp_path / "ownwell-data"
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
        engine.dispose()
    finally:
        os.umask(old_umask)
        get_settings.cache_clear()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {"ownwell.db", "ownwell.db-wal", "ownwell.db-shm", "secret"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)


# --- request bodies have a size limit, enforced while they stream in ---

MB = 1024 * 1024


def test_a_30_mb_json_body_is_refused_with_413_and_the_route_never_runs(admin, client):  # type: ignore[no-untyped-def]
    body = b'{"customer": {"emails": ["big@example.com"]}, "body": "' + b"x" * (30 * MB) + b'"}'
    answer = client.post(
        "/api/v1/cases", content=body, headers={**admin.headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    assert admin.get("/cases").json()["items"] == []  # nothing was taken in
    # Without a declared length (chunked), the count as it arrives refuses it too.
    chunked = client.post(
        "/api/v1/customers",
        content=iter([body[: 2 * MB]]),
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413 and chunked.json()["error"]["code"] == "too_large"
    # A web form is bounded the same way.
    form = client.post(
        "/login",
        content=b"email=" + b"a" * (2 * MB),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413


def _served(app):  # type: ignore[no-untyped-def]
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, server.servers[0].sockets[0].getsockname()[1]


def _head(sock) -> bytes:  # type: ignore[no-untyped-def]
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def test_a_real_server_answers_413_before_a_large_body_has_been_sent(app, admin):  # type: ignore[no-untyped-def]
    import select
    import socket

    server, thread, port = _served(app)
    token = admin.headers["Authorization"]
    try:
        # Declared 30 MB, of which only the first 64 KiB is ever sent: the answer comes anyway.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/cases HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"Authorization: {token}\r\nContent-Length: {30 * MB}\r\n\r\n".encode()
                + b'{"body": "'
                + b"x" * 65536
            )
            head = _head(sock)
            assert head.startswith(b"HTTP/1.1 413")
        # Chunked: the server refuses once the count passes the limit, long before 30 MB.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/v1/cases HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"Authorization: {token}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
            sent = 0
            while sent < 30 * MB and not select.select([sock], [], [], 0)[0]:
                try:
                    sock.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += 65536
            assert sent < 30 * MB, sent
            assert _head(sock).startswith(b"HTTP/1.1 413")
    finally:
        server.should_exit = True
        thread.join(10)
    assert admin.get("/cases").json()["items"] == []


# --- security headers on every answer ---

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _assert_secured(answer, *, cacheable: bool = False) -> None:  # type: ignore[no-untyped-def]
    assert CSP in answer.headers.get_list("content-security-policy"), answer.request.url
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    if cacheable:
        assert "no-store" not in answer.headers.get("cache-control", "")
    else:
        assert "no-store" in answer.headers["cache-control"], answer.request.url
    assert "strict-transport-security" not in answer.headers  # the base URL is http here


def test_every_kind_of_answer_carries_the_security_headers(admin, app, client):  # type: ignore[no-untyped-def]
    from tests.test_intake_lane import NEW_CUSTOMER, _lane

    _assert_secured(admin.get("/cases"))  # the API
    _assert_secured(admin.get("/cases/cas_missing"))  # an API error
    _assert_secured(client.get("/login"))  # a page
    _assert_secured(client.get("/help"))
    _assert_secured(client.get("/no-such-page"))  # a 404 outside the API
    _assert_secured(client.get("/static/staff.css"), cacheable=True)  # static files may be cached
    _assert_secured(client.post("/login", content=b"x" * (2 * MB)))  # refused by the body limit
    admin.get("/cases")  # the token is seen (and kept for 2 s), so the next intake takes the lane
    before = _lane(app).counts.taken
    taken = admin.post("/cases", NEW_CUSTOMER)
    assert _lane(app).counts.taken == before + 1 and taken.status_code == 201
    _assert_secured(taken)
    case, link = _resolved_case_feedback_link(admin)
    _assert_secured(client.get(link))  # a token-bearing page
    ack = next(m for m in _outbox(admin, case_id=case["id"]) if m["kind"] == "acknowledgement")
    portal = re.search(r"http://ownwell\.test(/portal/\S+)", ack["body"]).group(1)  # type: ignore[union-attr]
    _assert_secured(client.get(portal))


def test_an_unexpected_error_carries_the_security_headers_too(app, client):  # type: ignore[no-untyped-def]
    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/boom", boom)
    answer = client.get("/api/v1/boom")
    assert answer.status_code == 500
    _assert_secured(answer)


def test_hsts_is_sent_when_the_base_url_is_https(app, client, settings):  # type: ignore[no-untyped-def]
    app.state.settings = settings.model_copy(update={"base_url": "https://care.example"})
    answer = client.get("/login")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_no_template_has_inline_script_style_or_event_handlers():
    """The CSP forbids them; a new one would silently stop working in the browser."""
    from pathlib import Path

    templates = Path(__file__).resolve().parents[1] / "src" / "ownwell" / "web" / "templates"
    found = [
        f"{path.relative_to(templates)}: {match.group(0)}"
        for path in templates.rglob("*.html")
        for match in re.finditer(
            r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", path.read_text()
        )
    ]
    assert found == []


# --- no header injection through subjects and names ---

INJECTED = "Broken lamp\r\nBcc : evil@attacker.test"


def test_a_subject_or_name_with_a_line_break_is_refused_naming_the_field(admin):  # type: ignore[no-untyped-def]
    base = {"customer": {"emails": ["mia@example.com"]}, "body": "It broke."}
    for subject in (INJECTED, "Broken\nlamp", "Broken\u2028lamp", "Broken\x85lamp", "Broken\tlamp"):
        refused = admin.post("/cases", {**base, "subject": subject})
        assert refused.status_code == 422, subject
        assert refused.json()["error"]["field"] == "subject"
    case = admin.post("/cases", {**base, "subject": "Broken lamp"}).json()
    patch = admin.patch(f"/cases/{case['id']}", {"subject": INJECTED})
    assert patch.status_code == 422 and patch.json()["error"]["field"] == "subject"
    named = admin.post(
        "/cases", {"customer": {"name": "Mia\r\nBcc : x@y.test", "emails": ["m@x.test"]}, "body": "Hi"}
    )
    assert named.status_code == 422 and named.json()["error"]["field"] == "customer.name"
    staff = admin.post("/staff", {"name": "Sam\nAgent", "email": "sam@ownwell.test", "role": "agent"})
    assert staff.status_code == 422 and staff.json()["error"]["field"] == "name"
    department = admin.post("/departments", {"name": "Care\r\nX: y"})
    assert department.status_code == 422 and department.json()["error"]["field"] == "name"
    # Text that may span lines still does.
    assert admin.post(f"/cases/{case['id']}/messages", {"body": "Line one\r\nLine two"}).status_code == 201


def _smtp(settings, mailsink):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": mailsink.port, "mail_from": "care@acme.test"}
    )


def _headers_of(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    return [line.split(":", 1)[0].strip().lower() for line in head.split("\r\n") if not line[:1].isspace()]


def test_a_subject_stored_with_a_line_break_still_makes_one_subject_header_at_a_real_smtp_server(
    admin, session_factory, clock, settings, mailsink
):  # type: ignore[no-untyped-def]
    """A row stored before the API refused line breaks (or by a path that does not validate)."""
    case = admin.post(
        "/cases", {"customer": {"emails": ["mia@example.com"]}, "subject": "Broken lamp", "body": "It broke."}
    ).json()
    with unit_of_work(session_factory) as session:
        session.get(Case, case["id"]).subject = INJECTED  # type: ignore[union-attr]
    admin.post(f"/cases/{case['id']}/messages", {"body": "A new lamp is on its way."})
    run_once(session_factory, clock, _smtp(settings, mailsink))
    reply = [r for r in mailsink.raw if b"A new lamp" in r or b"Re: Broken lamp" in r]
    assert reply, [r[:400] for r in mailsink.raw]
    for raw in mailsink.raw:
        names = _headers_of(raw)
        assert names.count("subject") == 1
        assert "bcc" not in names  # "Bcc : ..." stays inside the one Subject line
    assert any(m["Subject"] == "Re: Broken lamp Bcc : evil@attacker.test" for m in mailsink.messages)


def test_a_mailed_in_subject_with_an_encoded_line_break_cannot_add_a_header(
    admin, session_factory, clock, settings, mailsink
):  # type: ignore[no-untyped-def]
    from ownwell.intake.service import receive_email

    raw = (
        b"From: Mia <mia@example.com>\r\nTo: care@acme.test\r\nMessage-ID: <m1@example.com>\r\n"
        b"Subject: =?utf-8?q?Broken_lamp=0D=0ABcc_:_evil@attacker.test?=\r\n\r\nIt broke.\r\n"
    )
    tuned = _smtp(settings, mailsink)
    with unit_of_work(session_factory) as session:
        receive_email(session, raw=raw, now=clock.now(), settings=tuned)
    run_once(session_factory, clock, tuned)
    assert mailsink.raw  # the acknowledgement
    for sent in mailsink.raw:
        names = _headers_of(sent)
        assert names.count("subject") == 1 and "bcc" not in names


# --- web list pages check their cursor as the API does ---

LIST_PAGES = ["/customers", "/incidents", "/insights/recurring", "/outbox", "/approvals"]


def test_every_web_list_page_refuses_a_cursor_it_did_not_give_out_with_an_error_page(
    admin, client, session_factory, clock
):  # type: ignore[no-untyped-def]
    from ownwell.kit.pagination import encode_cursor
    from ownwell.staff.models import Role
    from tests.staff_web import make_staff, web_session_for

    make_staff(session_factory, clock, name="Sue Super", email="sue@ownwell.test", role=Role.admin)
    web_session_for(client, session_factory, clock, "sue@ownwell.test")
    for path in LIST_PAGES:
        # NUL once decoded (PostgreSQL refuses it), not base64 (one character), far too long.
        for cursor in ("AA", "A", "A" * 500):
            answer = client.get(path, params={"cursor": cursor})
            assert answer.status_code == 422, (path, cursor, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html")
            assert "cursor" in answer.text
        # A cursor of the kind the page gives out still works.
        assert client.get(path, params={"cursor": encode_cursor("zzz_last")}).status_code == 200, path
