"""Soak: many processes on PostgreSQL, faults on purpose, and a check that nothing was lost (#25).

It starts, all on loopback and each as its own process: `ownwell serve --no-worker` x3 (the
first also runs the e-mail intake listener) and `ownwell worker` x2 against a fresh PostgreSQL
database, plus, in this process, a real SMTP sink (aiosmtpd) and a webhook receiver. Client
threads drive mixed load across the web processes (intake by API with an Idempotency-Key and
retries, intake by e-mail, replies, commitments due within seconds, orders whose events make
them late, portal feedback, one incident over 2,000 customers; customers who prefer the
webhook channel make webhook traffic). Meanwhile faults are injected at random times from
`--seed`: SIGKILL of a web process or a worker and a restart, a PostgreSQL restart (fast), the
SMTP sink down for 30 s, the webhook receiver answering 500, a slow client trickling a request.
Then the load stops, the workers drain (bounded), every child gets SIGTERM, and the invariants
are checked from the database and the sinks. JSON goes to stdout (and `--out FILE`); the exit
code is 1 if any invariant was violated.

The invariants, precisely:
- accepted_once: every request answered 2xx left exactly one row (cases by a unique subject,
  replies and commitments by a unique text, e-mail intake by a unique subject, feedback by its
  comment); a client retry with the same Idempotency-Key returned the same case. A request
  whose outcome the client never saw (connection cut) may have left at most one row.
- delivered: every outbox row is `sent`; the set of Message-IDs the SMTP sink received equals
  the e-mail rows of the outbox (webhook: the ids the receiver accepted equal the webhook rows).
  A message may arrive more than once only with the same Message-ID (at-least-once: in flight at
  a kill or at a database restart); the repeats are counted and may not exceed one per worker
  kill plus one per worker per PostgreSQL restart.
- owner_always: a sampler reads `count(*) FROM cases WHERE owner_id IS NULL` every second; every
  sample must be 0.
- on_time: a commitment due at D that was not kept must be marked broken by
  D + 2 x OWNWELL_WORKER_INTERVAL_S + 5 s (one sweep to come round, one to run, margin for a
  loaded machine) + the downtime of every fault that stops sweeping (a PostgreSQL restart, a
  worker killed until restarted) overlapping that window. Still open after that is a violation.
- fan_out: every customer recorded on the incident has exactly one incident message row, sent.
- counters: staff.open_case_count equals the number of that owner's cases not resolved/closed.
- no_hang: every child exits within 20 s of SIGTERM; otherwise it is killed and counted.
- no_500: no request was answered 500 (a database outage answers 503 with Retry-After).
- one_line_errors: no traceback in any child's log; an outage logs one line with its cause.

Faults are planned from the seed over 10-70 % of the load time: every kind of `--faults` once,
then one more every 25 s on average (PostgreSQL restarts at most one per 10 minutes, as they
disturb everything else on the server). Each is recorded with its start and end (seconds from
the soak's start). The report also gives the longest time no worker finished a sweep, the
client's view of every request (status or exception), and the size of each child's log.

Usage:  PYTHONPATH=src .venv/bin/python bench/soak.py --minutes 3 --seed 1 [--out FILE]
        [--faults web_kill,worker_kill,pg_restart,smtp_down,webhook_500,slow_client | none]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiosmtpd.controller import Controller
from common import free_port, machine, pg_create, pg_drop, pg_url

FAULT_KINDS = ("web_kill", "worker_kill", "pg_restart", "smtp_down", "webhook_500", "slow_client")
WEBHOOK_SECRET = "soak-webhook-secret"
WORKER_INTERVAL_S = 1.0
INCIDENT_CUSTOMERS = 2000
SMTP_DOWN_S = 30.0
_MESSAGE_ID = re.compile(rb"^Message-ID: <([^>@\r\n]+)@", re.MULTILINE | re.IGNORECASE)


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# sinks: SMTP and webhook, each able to go down or fail on purpose


class _Recorder:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.content)
        with self.sink.lock:
            self.sink.ids.append(found.group(1).decode() if found else "")
            if b"/portal/" in envelope.content:
                self.sink.portal_mail.append(envelope.content)
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.ids: list[str] = []
        self.portal_mail: list[bytes] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        for _ in range(50):  # the port may linger a moment after a stop
            try:
                self._controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port)
                self._controller.start()
                return
            except Exception:
                self._controller = None
                time.sleep(0.2)
        raise RuntimeError("SMTP sink could not listen again on its port")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class WebhookSink:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.bad_signatures = 0
        self.failing = False
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if sink.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                if not sink.signed(self.headers, body):
                    with sink.lock:
                        sink.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                with sink.lock:
                    sink.received.append(json.loads(body)["id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def signed(headers: Any, body: bytes) -> bool:
        """Either signature the product has sent: `X-Ownwell-Signature: sha256=<hex>` or the
        Stripe-style `Ownwell-Signature: t=<unix>,v1=<hex of HMAC(secret, "t.body")>`."""
        key = WEBHOOK_SECRET.encode()
        stripe = headers.get("Ownwell-Signature")
        if stripe:
            parts = dict(p.split("=", 1) for p in stripe.split(",") if "=" in p)
            want = hmac.new(key, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(want, parts.get("v1", ""))
        plain = headers.get("X-Ownwell-Signature", "")
        want = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, plain)


# --------------------------------------------------------------------------------------------
# processes


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int | None) -> None:
        self.name, self.argv, self.env, self.cwd, self.port = name, argv, env, cwd, port
        self.log = open(cwd / f"{name}.log", "ab")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 60) -> None:
        if self.port is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz in {timeout} s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def terminate(self, bound_s: float) -> float | None:
        """SIGTERM; the seconds it took to exit, or None if it hung (then it is killed)."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=bound_s)
            return round(time.monotonic() - started, 2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# --------------------------------------------------------------------------------------------
# the record of what the clients were told


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cases: dict[str, dict[str, Any]] = {}  # subject marker -> {id, key, outcome}
        self.replies: dict[str, str] = {}  # body marker -> outcome
        self.commitments: dict[str, dict[str, Any]] = {}  # text marker -> {id, due_at, kept, outcome}
        self.mails: dict[str, str] = {}  # subject marker -> outcome
        self.orders: dict[str, dict[str, Any]] = {}  # external id -> {id, late_posted}
        self.feedback: dict[str, str] = {}  # comment marker -> outcome
        self.open_cases: list[str] = []
        self.statuses: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.idempotent_repeats = 0
        self.idempotent_mismatch: list[str] = []
        self.incident: dict[str, Any] = {}
        self.sample_500: list[str] = []

    def status(self, what: str, code: int | str, detail: str = "") -> None:
        with self.lock:
            self.statuses[f"{what} {code}"] += 1
            if code == 500 and len(self.sample_500) < 10:
                self.sample_500.append(f"{what}: {detail[:300]}")


class Gone(Exception):
    """The client does not know what happened (connection cut, or it gave up retrying)."""


class Api:
    def __init__(self, ports: list[int], token: str, ledger: Ledger, rng: random.Random) -> None:
        self.ports, self.ledger, self.rng = ports, ledger, rng
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=15)

    def call(
        self, what: str, method: str, path: str, *, retry: bool, tries: int = 8, **kw: Any
    ) -> httpx.Response:
        """One request to a random web process. With `retry` (safe: idempotent or keyed), 503,
        500 and connection errors are retried on another process with backoff; without it only a
        503 is (the request never reached a commit)."""
        unsure = False
        for attempt in range(tries):
            port = self.rng.choice(self.ports)
            try:
                response = self.client.request(method, f"http://127.0.0.1:{port}/api/v1{path}", **kw)
            except httpx.HTTPError as exc:
                self.ledger.status(what, type(exc).__name__)
                unsure = unsure or not isinstance(exc, httpx.ConnectError)
                if not retry and unsure:
                    raise Gone(type(exc).__name__) from exc
                time.sleep(min(0.2 * 2**attempt, 3))
                continue
            self.ledger.status(what, response.status_code, response.text)
            if response.status_code == 503 or (retry and response.status_code >= 500):
                unsure = unsure or response.status_code != 503
                time.sleep(min(float(response.headers.get("Retry-After", "1")) / 5 * 2**attempt, 5))
                continue
            return response
        raise Gone(f"{what}: gave up after {tries} tries")


class Load:
    def __init__(self, *, api_ports: list[int], intake_port: int, token: str, ledger: Ledger,
                 departments: list[str], sms_customers: list[str], stop: threading.Event,
                 seed: int, index: int) -> None:  # fmt: skip
        self.rng = random.Random(seed * 1000 + index)
        self.api = Api(api_ports, token, ledger, self.rng)
        self.ports = api_ports
        self.intake_port = intake_port
        self.ledger, self.departments, self.sms = ledger, departments, sms_customers
        self.stop = stop
        self.index = index
        self.n = 0

    def marker(self, what: str) -> str:
        self.n += 1
        return f"soak-{what}-{self.index}-{self.n}-{uuid.uuid4().hex[:8]}"

    def run(self) -> None:
        actions = [
            (self.intake_api, 40),
            (self.reply, 15),
            (self.commitment, 12),
            (self.intake_mail, 10),
            (self.order, 10),
            (self.feedback, 5),
        ]
        funcs, weights = zip(*actions, strict=True)
        while not self.stop.is_set():
            action = self.rng.choices(funcs, weights)[0]
            try:
                action()
            except Gone as exc:
                with self.ledger.lock:
                    self.ledger.errors[f"{action.__name__}: {exc}"[:120]] += 1
            except Exception as exc:  # a bug in the soak itself must not stop the load silently
                with self.ledger.lock:
                    self.ledger.errors[f"{action.__name__}: {type(exc).__name__}: {exc}"[:160]] += 1
            time.sleep(self.rng.uniform(0.02, 0.1))

    def intake_api(self) -> None:
        mark = self.marker("case")
        key = uuid.uuid4().hex
        if self.sms and self.rng.random() < 0.2:
            payload: dict[str, Any] = {"customer_id": self.rng.choice(self.sms)}
        else:
            payload = {"customer": {"name": "Soak Customer", "emails": [f"{mark}@soak.test"]}}
        payload |= {"subject": mark, "body": f"My parcel never came ({mark}).", "kind": "complaint"}
        entry = {"key": key, "outcome": "unknown", "id": None}
        with self.ledger.lock:
            self.ledger.cases[mark] = entry
        r = self.api.call("POST /cases", "POST", "/cases", retry=True, json=payload,
                          headers={"Idempotency-Key": key})  # fmt: skip
        if r.status_code != 201:
            entry["outcome"] = f"refused {r.status_code}"
            return
        entry |= {"outcome": "accepted", "id": r.json()["id"]}
        if self.rng.random() < 0.1:  # a client repeating itself must get the same case
            again = self.api.call("POST /cases (repeat)", "POST", "/cases", retry=True, json=payload,
                                  headers={"Idempotency-Key": key})  # fmt: skip
            with self.ledger.lock:
                self.ledger.idempotent_repeats += 1
                if again.status_code != 201 or again.json()["id"] != entry["id"]:
                    self.ledger.idempotent_mismatch.append(f"{mark}: {again.status_code}")
        with self.ledger.lock:
            self.ledger.open_cases.append(entry["id"])

    def _some_case(self) -> str | None:
        with self.ledger.lock:
            return self.rng.choice(self.ledger.open_cases) if self.ledger.open_cases else None

    def reply(self) -> None:
        case_id = self._some_case()
        if case_id is None:
            return
        mark = self.marker("reply")
        with self.ledger.lock:
            self.ledger.replies[mark] = "unknown"
        r = self.api.call("POST /cases/{id}/messages", "POST", f"/cases/{case_id}/messages", retry=True,
                          json={"body": f"We are on it ({mark})."},
                          headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        self.ledger.replies[mark] = "accepted" if r.status_code == 201 else f"refused {r.status_code}"

    def commitment(self) -> None:
        case_id = self._some_case()
        if case_id is None:
            return
        mark = self.marker("promise")
        due = now_utc() + timedelta(seconds=self.rng.uniform(5, 25))
        entry: dict[str, Any] = {"outcome": "unknown", "id": None, "due_at": due}
        with self.ledger.lock:
            self.ledger.commitments[mark] = entry
        # Not keyed: only a 503 is retried, so a cut-off request is "unknown" (at most one row).
        r = self.api.call("POST /cases/{id}/commitments", "POST", f"/cases/{case_id}/commitments",
                          retry=False, json={"text": mark, "due_at": iso(due)})  # fmt: skip
        if r.status_code != 201:
            entry["outcome"] = f"refused {r.status_code}"
            return
        entry |= {"outcome": "accepted", "id": r.json()["id"]}
        if self.rng.random() < 0.5:  # keep half of them before they are due
            keep = self.api.call("POST /commitments/{id}/keep", "POST", f"/commitments/{entry['id']}/keep",
                                 retry=True)  # fmt: skip
            entry["kept"] = keep.status_code == 200

    def intake_mail(self) -> None:
        mark = self.marker("mail")
        with self.ledger.lock:
            self.ledger.mails[mark] = "unknown"
        msg = EmailMessage()
        msg["From"] = f"Mail Customer <{mark}@soak.test>"
        msg["To"] = "care@soak.test"
        msg["Subject"] = mark
        msg["Message-ID"] = f"<{mark}@soak.test>"
        msg.set_content(f"Hello, the item arrived broken. {mark}")
        for attempt in range(8):
            try:
                with smtplib.SMTP("127.0.0.1", self.intake_port, timeout=15) as smtp:
                    smtp.send_message(msg)
                self.ledger.mails[mark] = "accepted"
                return
            except (OSError, smtplib.SMTPException) as exc:
                self.ledger.status("SMTP intake", type(exc).__name__)
                time.sleep(min(0.3 * 2**attempt, 4))  # a resend with the same Message-ID is safe
        raise Gone("SMTP intake: gave up")

    def order(self) -> None:
        ext = self.marker("order")
        promised = now_utc() + timedelta(hours=2)
        customer: dict[str, Any] = {"name": "Order Customer", "emails": [f"{ext}@soak.test"]}
        r = self.api.call("POST /orders", "POST", "/orders", retry=False,
                          json={"external_id": ext, "customer": customer, "promised_by": iso(promised),
                                "department_id": self.rng.choice(self.departments)})  # fmt: skip
        if r.status_code != 201:
            return
        entry: dict[str, Any] = {"id": r.json()["id"], "late": False}
        with self.ledger.lock:
            self.ledger.orders[ext] = entry
        at = now_utc()
        items = [
            {"order_external_id": ext, "type": "shipped", "occurred_at": iso(at)},
            {"order_external_id": ext, "type": "delayed", "occurred_at": iso(at),
             "eta": iso(promised + timedelta(days=2)), "note": "Stuck at the depot"},
        ]  # fmt: skip
        ev = self.api.call("POST /order-events", "POST", "/order-events", retry=True, json={"items": items})
        if ev.status_code == 200:
            statuses = {item["status"] for item in ev.json()["items"]}
            entry["late"] = statuses <= {"accepted", "duplicate"}

    def feedback(self) -> None:
        """Resolve a case, then answer its portal page's feedback form as the customer would."""
        case_id = self._some_case()
        if case_id is None:
            return
        r = self.api.call("POST /cases/{id}/resolve", "POST", f"/cases/{case_id}/resolve", retry=True,
                          json={"summary": "Refund sent."})  # fmt: skip
        if r.status_code != 200:
            return
        with self.ledger.lock, contextlib.suppress(ValueError):
            self.ledger.open_cases.remove(case_id)
        path = "/portal/" + r.json()["portal_url"].split("/portal/", 1)[1]
        mark = self.marker("feedback")
        with self.ledger.lock:
            self.ledger.feedback[mark] = "unknown"
        with httpx.Client(base_url=f"http://127.0.0.1:{self.rng.choice(self.ports)}", timeout=15) as browser:
            try:
                page = browser.get(path)
                found = re.search(r'name="csrf" value="([^"]+)"', page.text)
                if page.status_code != 200 or not found:
                    self.ledger.feedback[mark] = f"no form {page.status_code}"
                    return
                form = {"csrf": found.group(1), "fixed": "yes", "csat": "5", "ces": "2", "comment": mark}
                sent = browser.post(path + "/feedback", data=form)
            except httpx.HTTPError as exc:
                raise Gone(f"portal: {type(exc).__name__}") from exc
        self.ledger.status("POST /portal/{t}/feedback", sent.status_code, sent.text)
        self.ledger.feedback[mark] = (
            "accepted" if sent.status_code in (200, 303) else f"refused {sent.status_code}"
        )


# --------------------------------------------------------------------------------------------
# the soak


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = Path(tempfile.mkdtemp(prefix="ownwell-soak-"))
        self.pg_name: str | None = None
        self.url = ""
        self.children: list[Child] = []
        self.webs: list[Child] = []
        self.workers: list[Child] = []
        self.smtp = SmtpSink()
        self.webhook = WebhookSink()
        self.ledger = Ledger()
        self.faults: list[dict[str, Any]] = []
        self.samples: list[int] = []
        self.sample_errors = 0
        self.longest_without_sweep = 0.0
        self.smtp_outage = threading.Lock()
        self.stop_load = threading.Event()
        self.stop_all = threading.Event()
        self.t0 = time.monotonic()

    def t(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    # ---- setup

    def env(self, **extra: str) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("OWNWELL_")}
        return (
            keep
            | {
                "OWNWELL_DATABASE_URL": self.url,
                "OWNWELL_SECRET_KEY": "soak-secret-key",
                "OWNWELL_BASE_URL": f"http://127.0.0.1:{self.web_ports[0]}",
                "OWNWELL_SMTP_HOST": "127.0.0.1",
                "OWNWELL_SMTP_PORT": str(self.smtp.port),
                "OWNWELL_SMTP_TIMEOUT_S": "5",
                "OWNWELL_MAIL_FROM": "care@soak.test",
                "OWNWELL_WEBHOOK_URL": f"http://127.0.0.1:{self.webhook.port}/hook",
                "OWNWELL_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "OWNWELL_WORKER_INTERVAL_S": str(WORKER_INTERVAL_S),
                "OWNWELL_DELIVERY_BACKOFF_S": "1",
                "OWNWELL_DELIVERY_LEASE_S": "10",
                "OWNWELL_DELIVERY_MAX_ATTEMPTS": "50",
                "OWNWELL_INSIGHTS_ENABLED": "false",
                "PYTHONUNBUFFERED": "1",
            }
            | extra
        )

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "ownwell", *args], env=self.env(), cwd=self.tmp,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"ownwell {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def set_up(self) -> None:
        self.pg_name, self.url = pg_create()
        self.web_ports = [free_port() for _ in range(3)]
        self.intake_port = free_port()
        self.smtp.start()
        self.cli("db", "upgrade")
        self.cli("user", "create", "--email", "admin@soak.test", "--name", "Admin", "--role", "admin")
        for i, dept in enumerate(["Shipping", "Shipping", "Billing", "Billing", "Product", "Product"]):
            self.cli("user", "create", "--email", f"agent{i}@soak.test", "--name", f"Agent {i}",
                     "--role", "agent", "--department", dept)  # fmt: skip
        for i in range(2):
            self.cli(
                "user", "create", "--email", f"front{i}@soak.test", "--name", f"Front {i}", "--role", "agent"
            )
        self.token = self.cli("token", "create", "--email", "admin@soak.test").strip()
        rows = ["name,email,phone,channel"]
        rows += [f"Affected {i},affected{i}@soak.test,,email" for i in range(INCIDENT_CUSTOMERS)]
        rows += [f"Texter {i},,+1555{i:07d},webhook" for i in range(200)]
        (self.tmp / "customers.csv").write_text("\n".join(rows) + "\n")
        self.cli("import", "customers", "customers.csv")
        with psycopg.connect(pg_url(self.pg_name).replace("postgresql+psycopg", "postgresql")) as conn:
            ids = conn.execute(
                "SELECT c.id, i.value FROM customers c JOIN customer_identifiers i ON i.customer_id = c.id"
            ).fetchall()
            self.departments = [r[0] for r in conn.execute("SELECT id FROM departments ORDER BY name")]
            self.incident_owner = conn.execute(
                "SELECT id FROM staff WHERE email = 'agent0@soak.test'"
            ).fetchone()[0]
        self.affected = [cid for cid, value in ids if value.startswith("affected")]
        self.texters = [cid for cid, value in ids if value.startswith("+1555")]
        for i, port in enumerate(self.web_ports):
            extra = {"OWNWELL_INTAKE_SMTP_PORT": str(self.intake_port)} if i == 0 else {}
            argv = [sys.executable, "-m", "ownwell", "serve", "--port", str(port), "--no-worker"]
            self.webs.append(Child(f"web{i}", argv, self.env(**extra), self.tmp, port))
        for i in range(2):
            argv = [sys.executable, "-m", "ownwell", "worker"]
            self.workers.append(Child(f"worker{i}", argv, self.env(), self.tmp, None))
        self.children = [*self.webs, *self.workers]
        for child in self.children:
            child.start()
        for child in self.webs:
            child.wait_ready()

    def dsn(self) -> str:
        assert self.pg_name
        return pg_url(self.pg_name).replace("postgresql+psycopg", "postgresql")

    # ---- background: sampler, incident, faults

    def sampler(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self.stop_all.wait(1.0):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.dsn(), autocommit=True, connect_timeout=3)
                self.samples.append(
                    conn.execute("SELECT count(*) FROM cases WHERE owner_id IS NULL").fetchone()[0]
                )
                last = conn.execute(
                    "SELECT extract(epoch FROM now() - max(last_sweep_at)) FROM worker_heartbeats"
                )
                age = last.fetchone()[0]
                if age is not None:
                    self.longest_without_sweep = max(self.longest_without_sweep, float(age))
            except psycopg.Error:
                self.sample_errors += 1
                conn = None
        if conn is not None:
            conn.close()

    def incident(self) -> None:
        api = Api(self.web_ports, self.token, self.ledger, random.Random(self.args.seed))
        body = {
            "title": f"soak-incident-{uuid.uuid4().hex[:8]}",
            "caused_by_department_id": self.departments[0],
            "owner_id": self.incident_owner,
            "customer_ids": self.affected,
            "message": "Our payment provider failed; your order is safe and will go out today.",
        }
        self.ledger.incident = {"title": body["title"], "outcome": "unknown", "at": self.t()}
        try:
            r = api.call("POST /incidents", "POST", "/incidents", retry=False, json=body, timeout=120)
            self.ledger.incident |= {"outcome": r.status_code, "id": r.json().get("id")}
        except Gone as exc:
            self.ledger.incident["outcome"] = f"gone: {exc}"

    def plan_faults(self, duration: float) -> list[tuple[float, str]]:
        kinds = list(self.args.fault_kinds)
        if not kinds:
            return []
        count = max(len(kinds), int(duration / 25))
        # A PostgreSQL restart disturbs everything else on the server: at most one per 10 minutes.
        others = [k for k in kinds if k != "pg_restart"] or kinds
        chosen = kinds + [self.rng.choice(others) for _ in range(count - len(kinds))]
        extra_restarts = int(duration // 600) - 1
        if "pg_restart" in kinds and extra_restarts > 0:
            chosen[len(kinds) : len(kinds) + extra_restarts] = ["pg_restart"] * extra_restarts
        self.rng.shuffle(chosen)
        # Spread over the run, from 10 % to 70 % of it, so the last ones settle before the end.
        slots = sorted(self.rng.uniform(0.1, 0.7) * duration for _ in chosen)
        return list(zip(slots, chosen, strict=True))

    def inject(self, kind: str) -> None:
        record: dict[str, Any] = {"kind": kind, "at_s": self.t()}
        self.faults.append(record)
        if kind == "web_kill":
            child = self.rng.choice(self.webs)
            record["process"] = child.name
            with child.lock:
                child.kill()
                time.sleep(self.rng.uniform(1, 3))
                child.start()
                child.wait_ready()
        elif kind == "worker_kill":
            child = self.rng.choice(self.workers)
            record["process"] = child.name
            with child.lock:
                child.kill()
                time.sleep(self.rng.uniform(1, 3))
                child.start()
        elif kind == "pg_restart":
            done = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart",
                                   "-m", "fast"], capture_output=True, text=True)  # fmt: skip
            record["rc"] = done.returncode
            if done.returncode != 0:
                record["stderr"] = done.stderr[-500:]
        elif kind == "smtp_down":
            # One outage at a time: two overlapping ones would fight over the port.
            if not self.smtp_outage.acquire(blocking=False):
                record["skipped"] = "the sink is already down"
                return
            try:
                self.smtp.stop()
                self.stop_all.wait(SMTP_DOWN_S)
                self.smtp.start()
            finally:
                self.smtp_outage.release()
        elif kind == "webhook_500":
            self.webhook.failing = True
            self.stop_all.wait(self.rng.uniform(10, 20))
            self.webhook.failing = False
        elif kind == "slow_client":
            record["answered_meanwhile"] = self.slow_client()
        record["until_s"] = self.t()

    def slow_client(self) -> int:
        """Headers of a POST, then its body a byte a second for 15 s; meanwhile the same process
        must go on answering others. Returns how many /healthz it answered meanwhile."""
        port = self.rng.choice(self.web_ports)
        answered = 0
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            head = (
                "POST /api/v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {self.token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
            )
            sock.sendall(head.encode())
            for _ in range(15):
                try:
                    sock.sendall(b" ")
                except OSError:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        answered += 1
                if self.stop_all.wait(1.0):
                    break
        return answered

    def faulter(self, plan: list[tuple[float, str]]) -> None:
        running: list[threading.Thread] = []
        for at, kind in plan:
            if self.stop_load.wait(max(0.0, at - (time.monotonic() - self.load_started))):
                break
            # Durable faults (sink down, 500s, slow client) run beside the others.
            thread = threading.Thread(target=self._inject_logged, args=(kind,), daemon=True)
            thread.start()
            if kind in ("smtp_down", "webhook_500", "slow_client"):
                running.append(thread)
            else:
                thread.join()
        for thread in running:
            thread.join()

    def _inject_logged(self, kind: str) -> None:
        try:
            self.inject(kind)
        except Exception as exc:
            self.faults.append({"kind": kind, "at_s": self.t(), "error": f"{type(exc).__name__}: {exc}"})

    # ---- run

    def run(self) -> dict[str, Any]:
        duration = self.args.minutes * 60
        self.set_up()
        setup_s = self.t()
        threads = [threading.Thread(target=self.sampler, daemon=True)]
        loads = [
            Load(api_ports=self.web_ports, intake_port=self.intake_port, token=self.token, ledger=self.ledger,
                 departments=self.departments, sms_customers=self.texters, stop=self.stop_load,
                 seed=self.args.seed, index=i)
            for i in range(self.args.clients)
        ]  # fmt: skip
        threads += [threading.Thread(target=load.run, daemon=True) for load in loads]
        self.load_started = time.monotonic()
        plan = self.plan_faults(duration)
        faulter = threading.Thread(target=self.faulter, args=(plan,), daemon=True)
        for thread in threads:
            thread.start()
        faulter.start()
        time.sleep(min(20.0, duration * 0.15))
        incident = threading.Thread(target=self.incident, daemon=True)
        incident.start()
        time.sleep(max(0.0, duration - (time.monotonic() - self.load_started)))
        self.stop_load.set()
        for thread in threads[1:]:
            thread.join(60)
        incident.join(120)
        faulter.join(120)
        load_s = round(time.monotonic() - self.load_started, 1)
        drained_s = self.drain()
        self.stop_all.set()
        threads[0].join(5)
        hung, exits = [], {}
        for child in self.children:
            took = child.terminate(20)
            exits[child.name] = took
            if took is None:
                hung.append(child.name)
        result = self.check()
        result["violations"]["no_hang"] = hung
        result["violations"]["one_line_errors"], result["logs"] = self.read_logs()
        result |= {
            "seed": self.args.seed,
            "minutes": self.args.minutes,
            "setup_s": setup_s,
            "load_s": load_s,
            "drain_s": drained_s,
            "exit_s": exits,
            "faults": self.faults,
            "faults_by_kind": dict(
                collections.Counter(f["kind"] for f in self.faults if "error" not in f and "skipped" not in f)
            ),
            "fault_errors": [f for f in self.faults if "error" in f],
            "machine": machine(),
        }
        result["ok"] = not any(result["violations"].values())
        return result

    def read_logs(self) -> tuple[list[str], dict[str, Any]]:
        """Errors log one line with their cause (#25): a traceback in a child's log is a
        violation. The sizes show what the faults cost in log."""
        found, sizes = [], {}
        for child in self.children:
            child.log.flush()
            text = (self.tmp / f"{child.name}.log").read_text(errors="replace")
            sizes[child.name] = {"bytes": len(text), "error_lines": text.count(" ERROR ")}
            lines = text.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("Traceback (most recent call last):"):
                    said = next((x for x in reversed(lines[:i]) if x[:4].isdigit()), "?")
                    found.append(f"{child.name}: traceback after: {said[:240]}")
        return found[:30], sizes

    def drain(self) -> float | None:
        """Waits (bounded) until every commitment is past due plus a sweep and no outbox row is
        pending. The seconds it took, or None if the bound passed."""
        started = time.monotonic()
        last_due = max((c["due_at"] for c in self.ledger.commitments.values()), default=now_utc())
        bound = started + self.args.drain_s
        while time.monotonic() < bound:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=3) as conn:
                    pending = conn.execute(
                        "SELECT count(*) FROM outbox_messages WHERE status IN ('queued', 'retrying', 'held')"
                    ).fetchone()[0]
                    unfanned = conn.execute(
                        "SELECT count(*) FROM incident_updates WHERE fanned_out_at IS NULL"
                    ).fetchone()[0]
            except psycopg.Error:
                time.sleep(1)
                continue
            if (
                pending == 0
                and unfanned == 0
                and now_utc() > last_due + timedelta(seconds=2 * WORKER_INTERVAL_S + 3)
            ):
                return round(time.monotonic() - started, 1)
            time.sleep(1)
        return None

    # ---- invariants

    def stopped_sweeping(self, start: datetime, end: datetime) -> float:
        """Seconds of faults that stop sweeping (PostgreSQL restart, a worker dead until
        restarted) overlapping [start, end], in wall-clock terms."""
        total = 0.0
        base = now_utc() - timedelta(seconds=time.monotonic() - self.t0)
        for f in self.faults:
            if f["kind"] not in ("pg_restart", "worker_kill") or "until_s" not in f:
                continue
            f_start = base + timedelta(seconds=f["at_s"])
            f_end = base + timedelta(seconds=f["until_s"] + 5)  # reconnecting after it
            overlap = (min(end, f_end) - max(start, f_start)).total_seconds()
            total += max(0.0, overlap)
        return total

    def check(self) -> dict[str, Any]:
        v: dict[str, Any] = {}
        L = self.ledger
        with psycopg.connect(self.dsn()) as conn:
            q = conn.execute

            def count_by(sql: str, values: list[str]) -> dict[str, int]:
                if not values:
                    return {}
                return dict(q(sql, (values,)).fetchall())

            # accepted exactly once
            subjects = count_by("SELECT subject, count(*) FROM cases WHERE subject = ANY(%s) GROUP BY 1",
                                list(L.cases) + list(L.mails))  # fmt: skip
            ids_by_subject = dict(
                q("SELECT subject, id FROM cases WHERE subject = ANY(%s)", (list(L.cases),)).fetchall()
            )
            bad = []
            for mark, e in L.cases.items():
                n = subjects.get(mark, 0)
                if (e["outcome"] == "accepted" and (n != 1 or ids_by_subject.get(mark) != e["id"])) or n > 1:
                    bad.append(f"case {mark}: {e['outcome']}, {n} rows")
            for mark, outcome in L.mails.items():
                n = subjects.get(mark, 0)
                if (outcome == "accepted" and n != 1) or n > 1:
                    bad.append(f"mail {mark}: {outcome}, {n} cases")
            texts = count_by("SELECT text, count(*) FROM commitments WHERE text = ANY(%s) GROUP BY text",
                             list(L.commitments))  # fmt: skip
            for mark, e in L.commitments.items():
                n = texts.get(mark, 0)
                if (e["outcome"] == "accepted" and n != 1) or n > 1:
                    bad.append(f"commitment {mark}: {e['outcome']}, {n} rows")
            reply_rows = dict(
                q(
                    "SELECT substring(text from 'soak-reply-[^)]*'), count(*) FROM case_events "
                    "WHERE text LIKE 'We are on it (soak-reply-%%' GROUP BY 1"
                ).fetchall()
            )
            for mark, outcome in L.replies.items():
                n = reply_rows.get(mark, 0)
                if (outcome == "accepted" and n != 1) or n > 1:
                    bad.append(f"reply {mark}: {outcome}, {n} events")
            comments = count_by("SELECT comment, count(*) FROM feedback WHERE comment = ANY(%s) GROUP BY 1",
                                list(L.feedback))  # fmt: skip
            for mark, outcome in L.feedback.items():
                n = comments.get(mark, 0)
                if (outcome == "accepted" and n != 1) or n > 1:
                    bad.append(f"feedback {mark}: {outcome}, {n} rows")
            v["accepted_once"] = bad[:50]
            v["idempotent_repeat"] = L.idempotent_mismatch

            # delivered, at least once, same Message-ID
            rows = q("SELECT id, channel, status, last_error, kind FROM outbox_messages").fetchall()
            by_status = collections.Counter(r[2] for r in rows)
            email_ids = {r[0] for r in rows if r[1] == "email"}
            hook_ids = {r[0] for r in rows if r[1] == "webhook"}
            with self.smtp.lock:
                got_mail = collections.Counter(self.smtp.ids)
            with self.webhook.lock:
                got_hook = collections.Counter(self.webhook.received)
            repeats = {k: n - 1 for k, n in (got_mail + got_hook).items() if n > 1}
            worker_kills = sum(1 for f in self.faults if f["kind"] == "worker_kill" and "error" not in f)
            pg_restarts = sum(1 for f in self.faults if f["kind"] == "pg_restart" and "error" not in f)
            allowed_repeats = worker_kills + 2 * pg_restarts
            v["delivered"] = [
                *[f"outbox {r[0]} {r[1]} {r[4]} is {r[2]}: {r[3]}" for r in rows if r[2] != "sent"][:30],
                *[f"e-mail {i} never reached the sink" for i in sorted(email_ids - set(got_mail))][:20],
                *[f"sink got unknown Message-ID {i}" for i in sorted(set(got_mail) - email_ids)][:20],
                *[f"webhook {i} never reached the receiver" for i in sorted(hook_ids - set(got_hook))][:20],
                *[f"receiver got unknown id {i}" for i in sorted(set(got_hook) - hook_ids)][:20],
            ]
            if sum(repeats.values()) > allowed_repeats:
                v["delivered"].append(f"{sum(repeats.values())} repeats > {allowed_repeats} allowed")
            if self.webhook.bad_signatures:
                v["delivered"].append(f"{self.webhook.bad_signatures} webhook posts with a bad signature")

            # owner always
            v["owner_always"] = [f"{n} cases without owner in a sample" for n in self.samples if n]

            # commitments on time
            late = []
            now = now_utc()
            for cid, _text, status, due_at, closed_at in q(
                "SELECT id, text, status, due_at, closed_at FROM commitments "
                "WHERE text LIKE 'soak-promise-%%'"
            ):
                if status == "kept":
                    continue
                end = closed_at if status == "broken" and closed_at else now
                allowance = 2 * WORKER_INTERVAL_S + 5 + self.stopped_sweeping(due_at, end)
                lateness = (end - due_at).total_seconds()
                if lateness > allowance:
                    late.append(
                        f"commitment {cid} {status}: {lateness:.1f} s after due, allowed {allowance:.1f}"
                    )
            v["on_time"] = late
            commitment_statuses = dict(q("SELECT status, count(*) FROM commitments GROUP BY 1").fetchall())

            # incident fan-out
            fan = []
            incident_id = L.incident.get("id")
            if L.incident.get("outcome") == 201 and incident_id:
                recorded = {r[0] for r in q("SELECT customer_id FROM incident_customers WHERE incident_id=%s",
                                            (incident_id,))}  # fmt: skip
                messages = collections.Counter(
                    r[0] for r in q("SELECT recipient_customer_id FROM outbox_messages WHERE status = 'sent' "
                                    "AND idempotency_key LIKE %s", (f"incident:{incident_id}:1:%",))
                )  # fmt: skip
                if recorded != set(self.affected):
                    fan.append(f"{len(set(self.affected) - recorded)} affected customers not recorded")
                missing = recorded - set(messages)
                if missing:
                    fan.append(f"{len(missing)} affected customers without a sent message")
                L.incident |= {"customers": len(recorded), "with_message": len(recorded & set(messages))}
            else:
                fan.append(f"incident not created: {L.incident.get('outcome')}")
            v["fan_out"] = fan

            # counters
            v["counters"] = [
                f"staff {sid}: counter {counter}, rows {rows_}"
                for sid, counter, rows_ in q(
                    "SELECT s.id, s.open_case_count, count(c.id) FROM staff s "
                    "LEFT JOIN cases c ON c.owner_id = s.id "
                    "AND c.status NOT IN ('resolved', 'closed') GROUP BY s.id, s.open_case_count"
                )
                if counter != rows_
            ]
            late_orders = q("SELECT count(*) FROM orders WHERE external_id LIKE 'soak-order-%%' "
                            "AND trouble_case_id IS NOT NULL").fetchone()[0]  # fmt: skip
            totals = {
                "cases": q("SELECT count(*) FROM cases").fetchone()[0],
                "outbox": len(rows),
                "outbox_by_status": dict(by_status),
                "outbox_by_channel": dict(collections.Counter(r[1] for r in rows)),
                "commitments_by_status": commitment_statuses,
                "orders_late_with_case": late_orders,
            }
            v["no_500"] = [s for s in L.sample_500]

        accepted = collections.Counter(e["outcome"] for e in L.cases.values())
        return {
            "violations": v,
            "requests": dict(sorted(L.statuses.items())),
            "client_gave_up": dict(L.errors),
            "ledger": {
                "cases_by_api": dict(accepted),
                "idempotent_repeats": L.idempotent_repeats,
                "mails": dict(collections.Counter(L.mails.values())),
                "replies": dict(collections.Counter(L.replies.values())),
                "commitments": dict(collections.Counter(e["outcome"] for e in L.commitments.values())),
                "orders": len(L.orders),
                "orders_late": sum(1 for e in L.orders.values() if e["late"]),
                "feedback": dict(collections.Counter(L.feedback.values())),
                "incident": L.incident,
            },
            "database": totals,
            "sinks": {
                "smtp_messages": sum(got_mail.values()),
                "smtp_distinct_message_ids": len(got_mail),
                "webhook_posts": sum(got_hook.values()),
                "webhook_distinct_ids": len(got_hook),
                "repeats_same_message_id": sum(repeats.values()),
                "repeats_allowed": allowed_repeats,
            },
            "owner_samples": {"taken": len(self.samples), "failed_during_faults": self.sample_errors},
            "longest_without_a_sweep_s": round(self.longest_without_sweep, 1),
        }

    def clean_up(self) -> None:
        self.stop_load.set()
        self.stop_all.set()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                child.proc.kill()
                child.proc.wait()
        self.smtp.stop()
        self.webhook.server.shutdown()
        if self.pg_name:
            with contextlib.suppress(Exception):
                pg_drop(self.pg_name)
        if self.args.keep:
            print(f"kept {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="length of the load (faults within it)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS), help="comma list of fault kinds, or none")
    parser.add_argument(
        "--drain-s", type=float, default=150.0, help="bound on the wait for delivery at the end"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir with the process logs")
    args = parser.parse_args()
    args.fault_kinds = [] if args.faults == "none" else [k for k in args.faults.split(",") if k]
    unknown = set(args.fault_kinds) - set(FAULT_KINDS)
    if unknown:
        parser.error(f"unknown fault kinds: {', '.join(sorted(unknown))}")
    soak = Soak(args)
    try:
        result = soak.run()
    finally:
        soak.clean_up()
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    sys.exit(main())
