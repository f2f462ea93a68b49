"""Throughput of `POST /api/v1/cases` through a real `ownwell serve` process.

For each database (a fresh SQLite file in a temp dir, and/or a fresh PostgreSQL database that is
dropped afterwards) this:

1. sets the organisation up with the CLI, as a user would (`ownwell user create ...`,
   `ownwell token create ...`), with the database in OWNWELL_DATABASE_URL and a temp working
   directory (so the generated secret and any `.env` are the temp dir's, not the repo's);
2. starts `ownwell serve --port <free> --no-worker [--workers N]` as a subprocess, waits for
   /healthz;
3. drives it with C concurrent keep-alive clients on loopback for a warm-up and then a measured
   window; every request is a new complaint from a new or (30 %) a returning customer, caused by
   one of the departments or unattributed. Only 201s count; anything else is reported as an error;
4. stops the server and measures the raw limit of the same database, through SQLAlchemy Core on
   the app's own make_engine(), one transaction per row, from 1 thread and from C threads: one row
   shaped like a case (a bench table with the `cases` columns and indexes); the same statements a
   case request runs (token lookup, identifier lookup, customer + identifier, routing, staff
   counter, case, event, outbox); and the same rows written with 7 statements ("lean");
5. prints JSON (and writes it with --json-out).

CPU use of the server processes, the client (this process) and PostgreSQL is sampled from /proc
over the measured window, so "CPU ms per case" can be compared with the 2-core budget.

With --profile DIR, `py-spy record --gil --format raw` is attached to the server for exactly the
measured window and a summary of where the server's CPU went (by purpose, by layer, by function)
is added to the JSON; profiled figures are perturbed by the sampler: don't quote them.

Usage:  .venv/bin/python bench/cases_throughput.py [--db sqlite|postgresql|both] [--seconds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import add_load_arguments, clean_up, free_port, machine, pg_create, run_cli

BIN = Path(sys.executable).parent
OWNWELL = str(BIN / "ownwell")
PG_ADMIN_DSN = os.environ.get("OWNWELL_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
CLK_TCK = os.sysconf("SC_CLK_TCK")

DEPARTMENTS = {
    "Shipping": [("Sam Carter", "sam.carter"), ("Noor Haddad", "noor.haddad")],
    "Billing": [("Bea Lindqvist", "bea.lindqvist"), ("Tom Okafor", "tom.okafor")],
    "Product": [("Priya Raman", "priya.raman")],
}
FRONT_LINE = [("Alex Moreau", "alex.moreau"), ("Jo Kim", "jo.kim")]

COMPLAINTS = [
    "My parcel for order {o} was promised for Tuesday and it still has not arrived.",
    "I was charged twice for order {o}, please refund the second payment.",
    "The blender from order {o} stopped working after two days and smells of burning.",
    "Your courier left order {o} outside in the rain and the box was soaked through.",
    "I cancelled order {o} last week but the money has not come back to my card.",
    "The size in order {o} is wrong: I ordered a medium and received an extra large.",
    "Nobody answered my two e-mails about order {o}; I would like a call back, please.",
    "The tracking page for order {o} has said 'in transit' for nine days now.",
    "Order {o} arrived with a cracked screen; I need a replacement before Friday.",
    "I was promised a refund for order {o} on the phone and it never happened.",
    "The invoice for order {o} shows the wrong address and my company cannot pay it.",
    "Half of order {o} is missing: only one of the two chairs was delivered.",
]
FIRST = ["Maria", "John", "Aiko", "Lars", "Fatima", "Diego", "Chen", "Olga", "Kwame", "Emma", "Ravi", "Zoe"]


# --------------------------------------------------------------------------------------------
# processes and /proc


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces; it is inside the last parentheses.
    head, _, tail = raw.rpartition(")")
    comm = head.partition("(")[2]
    return [str(pid), comm, *tail.split()]


def _all_stats() -> dict[int, list[str]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                out[int(entry)] = st
    return out


def descendants(root: int, stats: dict[int, list[str]] | None = None) -> list[int]:
    stats = stats or _all_stats()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, st in stats.items():
        children[int(st[3])].append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: list[int], stats: dict[int, list[str]]) -> dict[int, float]:
    # fields 14 and 15 (1-based) are utime and stime in clock ticks
    return {p: (int(stats[p][13]) + int(stats[p][14])) / CLK_TCK for p in pids if p in stats}


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine (all cores) since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds used over a window by the server tree, this process (the client), PostgreSQL
    (backends of the bench database + its shared background processes) and everything else on the
    machine (other people's tests share these 2 cores; 'other' says how much)."""

    def __init__(self, server_pid: int, *, pg_database: str | None, exclude: set[int] | None = None) -> None:
        self.server_pid = server_pid
        self.pg_database = pg_database
        self.exclude = exclude or set()

    def _pg_pids(self, stats: dict[int, list[str]]) -> list[int]:
        if not self.pg_database:
            return []
        out = []
        for pid, st in stats.items():
            if st[1] != "postgres":
                continue
            cmd = _cmdline(pid)
            if f" {self.pg_database} " in cmd or "(" not in cmd:  # our backends, or background workers
                out.append(pid)
        return out

    def sample(self) -> dict[str, Any]:
        stats = _all_stats()
        server = [p for p in descendants(self.server_pid, stats) if p not in self.exclude]
        return {
            "server": cpu_seconds(server, stats),
            "postgres": cpu_seconds(self._pg_pids(stats), stats),
            "client": {os.getpid(): sum(os.times()[:2])},
            "machine": {0: machine_busy_seconds()},
        }

    @staticmethod
    def used(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        out = {k: sum(v - a[k].get(p, 0.0) for p, v in b[k].items()) for k in b}
        out["other"] = max(0.0, out["machine"] - out["server"] - out["client"] - out["postgres"])
        return out


def wait_quiet(limit_s: float, threshold: float = 0.3) -> float:
    """Wait (up to limit_s) until the machine is nearly idle; the busy cores last seen."""
    deadline = time.monotonic() + limit_s
    busy = background_load()
    while busy > threshold and time.monotonic() < deadline:
        print(f"[bench] machine busy ({busy} cores used by others), waiting ...", file=sys.stderr, flush=True)
        busy = background_load(5.0)
    return busy


def background_load(seconds: float = 2.0) -> float:
    """Busy cores on the machine before we start (other people's work)."""
    a = machine_busy_seconds()
    time.sleep(seconds)
    return round((machine_busy_seconds() - a) / seconds, 2)


# --------------------------------------------------------------------------------------------
# the organisation, set up with the CLI


def set_up_org(env: dict[str, str], cwd: Path) -> tuple[str, list[str]]:
    commands = [["user", "create", "--email", "admin@bench.test", "--name", "Admin", "--role", "admin"]]
    for department, people in DEPARTMENTS.items():
        for name, handle in people:
            agent = ["user", "create", "--email", f"{handle}@bench.test", "--name", name, "--role", "agent"]
            commands.append([*agent, "--department", department])
    for name, handle in FRONT_LINE:
        commands.append(
            ["user", "create", "--email", f"{handle}@bench.test", "--name", name, "--role", "agent"]
        )
    for args in commands:
        run_cli(args, env=env, cwd=cwd)
    token = run_cli(["token", "create", "--email", "admin@bench.test"], env=env, cwd=cwd).strip()
    assert "\n" not in token and token, f"token create printed {token!r}"
    return token, commands_as_text(commands)


def commands_as_text(commands: list[list[str]]) -> list[str]:
    return ["ownwell " + " ".join(f"'{a}'" if " " in a else a for a in c) for c in commands]


# --------------------------------------------------------------------------------------------
# the server


class Server:
    def __init__(self, *, env: dict[str, str], cwd: Path, workers: int) -> None:
        self.port = free_port()
        self.workers = workers
        self.argv = [OWNWELL, "serve", "--port", str(self.port), "--no-worker", "--workers", str(workers)]
        argv = self.argv
        self.log = open(cwd / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    # with several workers, give the others a moment to come up too
                    time.sleep(1.0 if self.workers > 1 else 0.2)
                    return
            time.sleep(0.2)
        raise RuntimeError("server did not answer /healthz in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in reversed(descendants(self.proc.pid)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# --------------------------------------------------------------------------------------------
# the load: C keep-alive connections, new and returning customers


class Load:
    def __init__(self, *, token: str, departments: list[str], returning: float, seed: int) -> None:
        self.token = token
        self.departments = departments
        self.returning = returning
        self.rng = random.Random(seed)
        self.known: list[str] = []
        self.run = uuid.uuid4().hex[:6]
        self.serial = 0

    def sender(self) -> tuple[str, str | None]:
        """A returning customer's address (`returning` of the time) or a new one; the new one
        again, to be remembered once its request succeeds (else None)."""
        self.serial += 1
        if self.known and self.rng.random() < self.returning:
            return self.rng.choice(self.known), None
        email = f"{self.rng.choice(FIRST).lower()}.{self.run}{self.serial}@example.com"
        return email, email

    def complaint(self) -> str:
        return self.rng.choice(COMPLAINTS).format(o=f"A-{self.rng.randint(100000, 999999)}")

    def payload(self) -> tuple[bytes, str | None]:
        email, new_email = self.sender()
        body: dict[str, Any] = {
            "customer": {"emails": [email]},
            "body": self.complaint(),
            "kind": "complaint",
            "channel": "email",
        }
        if self.rng.random() < 0.75:  # a quarter of complaints are not attributed to anyone yet
            body["caused_by_department_id"] = self.rng.choice(self.departments)
        return json.dumps(body).encode(), new_email


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.error_samples: dict[str, str] = {}
        self.in_window = False
        self.done = False

    def error(self, key: str, sample: str) -> None:
        if self.in_window:
            self.errors[key] += 1
        self.error_samples.setdefault(key, sample[:400])


async def http_client(
    host: str,
    port: int,
    *,
    path: str,
    authorization: str,
    load: Load,
    stats: Stats,
    created: Callable[[dict[str, Any]], bool],
    per_connection: int = 0,
) -> None:
    """A minimal HTTP/1.1 client (µs per request, so it barely competes with the server) that
    POSTs `load.payload()` to `path` until the run is done. It keeps its connection unless the
    server closes it (`Connection: close`, as gunicorn's sync workers do) or `per_connection`
    (> 0) requests have gone over it; a new connection's connect is timed in. A 201 counts when
    `created(body)` says its JSON body is what the request should have made."""
    head_tpl = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {authorization}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: "
    ).encode()
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    used = 0
    while not stats.done:
        body, new_email = load.payload()
        in_window = stats.in_window
        t0 = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
                used = 0
            assert reader is not None
            used += 1
            writer.write(head_tpl + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            close = b"connection: close" in lower
            i = lower.find(b"content-length:")
            if i >= 0:
                data = await reader.readexactly(int(lower[i + 15 : lower.find(b"\r\n", i)]))
            else:  # the body ends with the connection
                data = await reader.read()
                close = True
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            stats.error("connection", repr(exc))
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
            continue
        elapsed = time.perf_counter() - t0
        if status == 201:
            if not created(json.loads(data)):
                stats.error("201-but-wrong-body", data.decode(errors="replace"))
            elif in_window and stats.in_window:
                stats.ok += 1
                stats.latencies.append(elapsed)
            if new_email:
                load.known.append(new_email)
        else:
            stats.error(str(status), data.decode(errors="replace"))
        if close or used == per_connection:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def raw_client(host: str, port: int, load: Load, stats: Stats, per_connection: int = 0) -> None:
    """`http_client` for `POST /api/v1/cases`: an open case with a named owner is a success."""
    await http_client(
        host,
        port,
        path="/api/v1/cases",
        authorization=f"Bearer {load.token}",
        load=load,
        stats=stats,
        created=lambda case: case.get("status") == "open" and bool(case.get("owner", {}).get("id")),
        per_connection=per_connection,
    )


async def httpx_client(client: Any, load: Load, stats: Stats) -> None:
    import httpx

    headers = {"authorization": f"Bearer {load.token}", "content-type": "application/json"}
    while not stats.done:
        body, new_email = load.payload()
        in_window = stats.in_window
        t0 = time.perf_counter()
        try:
            r = await client.post("/api/v1/cases", content=body, headers=headers)
        except httpx.HTTPError as exc:
            stats.error("connection", repr(exc))
            await asyncio.sleep(0.05)
            continue
        elapsed = time.perf_counter() - t0
        if r.status_code == 201:
            case = r.json()
            if case.get("status") != "open" or not case.get("owner", {}).get("id"):
                stats.error("201-but-wrong-body", r.text)
            elif in_window and stats.in_window:
                stats.ok += 1
                stats.latencies.append(elapsed)
            if new_email:
                load.known.append(new_email)
        else:
            stats.error(str(r.status_code), r.text)


async def drive(
    *,
    port: int,
    load: Load,
    clients: int,
    warmup: float,
    seconds: float,
    kind: str,
    meter: CpuMeter,
    profiler: Profiler | None = None,
    pg_database: str | None = None,
    per_connection: int = 0,
    make_client: Any = None,
) -> dict[str, Any]:
    """make_client(stats) -> coroutine: another client for the same load loop and accounting
    (bench/peer_helpdesk.py drives django-helpdesk with it); None: `kind` decides."""
    stats = Stats()
    client = None
    if make_client is not None:
        tasks = [asyncio.create_task(make_client(stats)) for _ in range(clients)]
    elif kind == "httpx":
        import httpx

        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            limits=httpx.Limits(max_connections=clients, max_keepalive_connections=clients),
            timeout=30,
        )
        tasks = [asyncio.create_task(httpx_client(client, load, stats)) for _ in range(clients)]
    else:
        tasks = [
            asyncio.create_task(raw_client("127.0.0.1", port, load, stats, per_connection))
            for _ in range(clients)
        ]
    await asyncio.sleep(warmup)
    if profiler is not None:
        profiler.start(meter.server_pid, seconds)
    waits = PgWaits(pg_database) if pg_database else None
    before = meter.sample()
    t0 = time.perf_counter()
    stats.in_window = True
    with waits or contextlib.nullcontext():
        await asyncio.sleep(seconds)
    stats.in_window = False
    window = time.perf_counter() - t0
    after = meter.sample()
    stats.done = True
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=60)
    if client is not None:
        await client.aclose()
    lat = sorted(stats.latencies)

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 2) if lat else None

    cpu = CpuMeter.used(before, after)
    # per server process (uvicorn's supervisor + its workers): shows whether the keep-alive
    # connections, which stay with the worker that accepted them, were spread evenly
    per_process = sorted(
        (round((v - before["server"].get(pid, 0.0)) / window, 2) for pid, v in after["server"].items()),
        reverse=True,
    )
    return {
        "cases_per_s": round(stats.ok / window, 1),
        "cases": stats.ok,
        "window_s": round(window, 2),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        "errors": sum(stats.errors.values()),
        "errors_by_status": dict(stats.errors),
        "error_samples": stats.error_samples,
        "cpu_cores_used": {k: round(v / window, 2) for k, v in cpu.items()},
        "server_cores_by_process": per_process,
        "server_cpu_ms_per_case": round(cpu["server"] * 1000 / stats.ok, 3) if stats.ok else None,
        "postgres_cpu_ms_per_case": round(cpu["postgres"] * 1000 / stats.ok, 3) if stats.ok else None,
        "client_cpu_ms_per_case": round(cpu["client"] * 1000 / stats.ok, 3) if stats.ok else None,
        **({"pg_backends": waits.summary()} if waits else {}),
    }


class PgWaits:
    """Samples pg_stat_activity of the bench database every 20 ms over the window: what the
    server's backends were doing (CPU, client round trip, row lock, WAL flush, ...)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                    (self.database,),
                ).fetchall()
                self.samples += 1
                for state, wtype, wevent in rows:
                    if state == "idle":
                        key = "idle (no transaction: waiting for the app)"
                    elif state == "idle in transaction":
                        key = "idle in transaction (waiting for the app mid-transaction)"
                    elif wtype is None:
                        key = "active on CPU"
                    else:
                        key = f"active, waiting: {wtype}:{wevent}"
                    self.counts[key] += 1

    def __enter__(self) -> PgWaits:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def summary(self) -> dict[str, Any]:
        n = max(1, self.samples)
        return {
            "samples": self.samples,
            "mean_backends_by_state": {k: round(v / n, 2) for k, v in self.counts.most_common()},
        }


def fetch_departments(base: str, token: str) -> list[str]:
    import httpx

    r = httpx.get(base + "/api/v1/departments", headers={"authorization": f"Bearer {token}"}, timeout=10)
    r.raise_for_status()
    ids = [d["id"] for d in r.json()["items"]]
    assert len(ids) == len(DEPARTMENTS), ids
    return ids


# --------------------------------------------------------------------------------------------
# the raw limit of the same database


def _threads(
    n: int, seconds: float, work: Any, cpu: dict[str, Any], name: str, pg_database: str | None
) -> float:
    """Run work(i) in a loop on n threads for `seconds`; rows per second. The CPU spent per row by
    this process (Python + driver) and by PostgreSQL goes into cpu[name]."""
    meter = CpuMeter(-1, pg_database=pg_database)  # no server: only this process and PostgreSQL
    before = meter.sample()
    stop = threading.Event()
    counts = [0] * n
    failures: list[BaseException] = []

    def loop(k: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                work(k * 10_000_000 + i)
                i += 1
                counts[k] += 1
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    used = CpuMeter.used(before, meter.sample())
    if failures:
        raise RuntimeError(f"raw insert failed: {failures[0]!r}") from failures[0]
    rows = max(1, sum(counts))
    cpu[name] = {
        "python_cpu_ms_per_row": round(used["client"] * 1000 / rows, 3),
        **({"postgres_cpu_ms_per_row": round(used["postgres"] * 1000 / rows, 3)} if pg_database else {}),
        "other_busy_cores": round(used["other"] / elapsed, 2),
    }
    return round(sum(counts) / elapsed, 1)


def raw_limits(database_url: str, *, threads: int, seconds: float, pg_database: str | None) -> dict[str, Any]:
    from sqlalchemy import Column, Index, MetaData, Table, insert, select, update

    from ownwell.cases.models import CadencePolicy, Case, CaseEvent
    from ownwell.customers.models import Customer, CustomerIdentifier
    from ownwell.db import make_engine
    from ownwell.kit.ids import new_id
    from ownwell.notifications.models import OutboxMessage
    from ownwell.staff.models import ApiToken, Department, Staff, staff_departments

    engine = make_engine(database_url)  # the same engine setup (pragmas, BEGIN IMMEDIATE, pool) the app uses
    md = MetaData()
    cases = Case.__table__
    bench = Table(
        "bench_case_rows",
        md,
        *[Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in cases.columns],
    )
    for ix in cases.indexes:
        Index(f"bench_{ix.name}", *[bench.c[c.name] for c in ix.columns])
    md.create_all(engine)

    with engine.connect() as conn:
        staff_ids = conn.scalars(select(Staff.id)).all()
        customer_id = conn.scalar(select(Customer.id).limit(1))
        department_ids = conn.scalars(select(Department.id)).all()
        token_hash = conn.scalar(select(ApiToken.token_hash).limit(1))
        admin = conn.execute(
            select(Staff.id, Staff.name).join(ApiToken, ApiToken.staff_id == Staff.id).limit(1)
        ).one()
    now = datetime.now(UTC).replace(microsecond=0)
    cols = {c.name for c in cases.columns}

    def case_row(i: int, **over: Any) -> dict[str, Any]:
        row = {
            "id": new_id("cas"),
            "customer_id": customer_id,
            "owner_id": staff_ids[i % len(staff_ids)],
            "subject": "My parcel for order A-123456 was promised for Tuesday and it still has not arrived.",
            "kind": "complaint",
            "channel": "email",
            "status": "open",
            "proactive": False,
            "caused_by_department_id": department_ids[i % len(department_ids)],
            "order_id": None,
            "incident_id": None,
            "recurring_issue_id": None,
            "next_update_due": now + timedelta(hours=4),
            "first_response_at": None,
            "resolved_at": None,
            "reopen_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        row.update(over)
        return {k: v for k, v in row.items() if k in cols}

    def one_row(i: int) -> None:
        with engine.begin() as conn:
            conn.execute(insert(bench), case_row(i))

    def case_transaction(i: int) -> None:
        """What POST /cases writes and reads, statement for statement, without ORM or HTTP."""
        email = f"raw{i}.{uuid.uuid4().hex[:8]}@example.com"
        department_id = department_ids[i % len(department_ids)]
        with engine.begin() as conn:
            actor = conn.execute(
                select(Staff.__table__)
                .join(ApiToken, ApiToken.staff_id == Staff.id)
                .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
            ).one()
            conn.execute(
                select(CustomerIdentifier.customer_id).where(
                    CustomerIdentifier.kind == "email",
                    CustomerIdentifier.system == "",
                    CustomerIdentifier.value == email,
                )
            ).all()
            customer = new_id("cus")
            conn.execute(
                insert(Customer),
                {
                    "id": customer,
                    "name": "Raw Customer",
                    "preferred_channel": "email",
                    "timezone": "UTC",
                    "topics": [],
                    "do_not_contact": False,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            conn.execute(
                insert(CustomerIdentifier),
                {"id": new_id("cid"), "customer_id": customer, "kind": "email", "system": "", "value": email},
            )
            conn.execute(select(Department.id).where(Department.id == department_id)).one()
            owner = conn.execute(
                select(Staff.id, Staff.name)
                .join(staff_departments, staff_departments.c.staff_id == Staff.id)
                .where(staff_departments.c.department_id == department_id, Staff.on_duty.is_(True))
                .order_by(Staff.open_case_count, Staff.id)
                .limit(1)
            ).one()
            conn.execute(select(CadencePolicy.__table__).where(CadencePolicy.kind == "complaint")).all()
            conn.execute(
                update(Staff).where(Staff.id == owner.id).values(open_case_count=Staff.open_case_count + 1)
            )
            key = f"case-ack:{i}:{uuid.uuid4().hex[:8]}"
            conn.execute(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)).all()
            write_case(
                conn,
                i,
                customer=customer,
                email=email,
                owner=owner,
                department_id=department_id,
                key=key,
                actor=actor,
            )

    def write_case(
        conn: Any, i: int, *, customer: str, email: str, owner: Any, department_id: str, key: str, actor: Any
    ) -> None:
        case = case_row(i, customer_id=customer, owner_id=owner.id, caused_by_department_id=department_id)
        conn.execute(insert(Case), case)
        conn.execute(
            insert(CaseEvent),
            {
                "id": new_id("evt"),
                "case_id": case["id"],
                "at": now,
                "kind": "case_created",
                "actor_customer_id": customer,
                "actor_name": "Raw Customer",
                "visibility": "customer",
                "text": case["subject"],
                "data": {
                    "owner": {"id": owner.id, "name": owner.name},
                    "routed_by": "department",
                    "created_by": {"id": actor.id, "name": actor.name},
                },
            },
        )
        conn.execute(
            insert(OutboxMessage),
            {
                "id": new_id("msg"),
                "idempotency_key": key,
                "case_id": case["id"],
                "channel": "email",
                "recipient": email,
                "recipient_customer_id": customer,
                "kind": "acknowledgement",
                "subject": "We have your message",
                "body": "Hello, " + "x" * 600,
                "headers": {},
                "status": "held",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )

    lean_engine = make_engine(database_url)
    lean_engine.pool._pre_ping = False  # type: ignore[attr-defined]  # no SELECT 1 per checkout
    postgres = lean_engine.dialect.name == "postgresql"

    def lean_case_transaction(i: int) -> None:
        """A leaner design of the same writes: token/department/cadence cached in the process
        (no query), no savepoint, no duplicate identifier lookup, no idempotency SELECT (the
        unique key guards it), routing + counter in one UPDATE ... RETURNING (SKIP LOCKED on
        PostgreSQL, so concurrent cases spread over a department instead of queueing on one row),
        no pre-ping: 7 statements instead of 16 round trips."""
        email = f"lean{i}.{uuid.uuid4().hex[:8]}@example.com"
        department_id = department_ids[i % len(department_ids)]
        with lean_engine.begin() as conn:
            conn.execute(
                select(CustomerIdentifier.customer_id).where(
                    CustomerIdentifier.kind == "email",
                    CustomerIdentifier.system == "",
                    CustomerIdentifier.value == email,
                )
            ).first()
            customer = new_id("cus")
            conn.execute(
                insert(Customer),
                {
                    "id": customer,
                    "name": "Raw Customer",
                    "preferred_channel": "email",
                    "timezone": "UTC",
                    "topics": [],
                    "do_not_contact": False,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            conn.execute(
                insert(CustomerIdentifier),
                {"id": new_id("cid"), "customer_id": customer, "kind": "email", "system": "", "value": email},
            )
            pick = (
                select(Staff.id)
                .join(staff_departments, staff_departments.c.staff_id == Staff.id)
                .where(staff_departments.c.department_id == department_id, Staff.on_duty.is_(True))
                .order_by(Staff.open_case_count, Staff.id)
                .limit(1)
            )
            bump = (
                update(Staff)
                .values(open_case_count=Staff.open_case_count + 1)
                .returning(Staff.id, Staff.name)
            )
            owner = None
            if postgres:
                skip = pick.with_for_update(skip_locked=True).scalar_subquery()
                owner = conn.execute(bump.where(Staff.id == skip)).first()
            if owner is None:  # SQLite, or every member busy right now: wait for the least loaded
                owner = conn.execute(bump.where(Staff.id == pick.scalar_subquery())).one()
            write_case(
                conn,
                i,
                customer=customer,
                email=email,
                owner=owner,
                department_id=department_id,
                key=f"case-ack:{i}:{uuid.uuid4().hex[:8]}",
                actor=admin,
            )

    try:
        cpu: dict[str, Any] = {}
        phases = [
            ("raw_inserts_per_s_1_thread", 1, one_row),
            (f"raw_inserts_per_s_{threads}_threads", threads, one_row),
            ("raw_case_transactions_per_s_1_thread", 1, case_transaction),
            (f"raw_case_transactions_per_s_{threads}_threads", threads, case_transaction),
            ("raw_lean_case_transactions_per_s_1_thread", 1, lean_case_transaction),
            (f"raw_lean_case_transactions_per_s_{threads}_threads", threads, lean_case_transaction),
        ]
        out: dict[str, Any] = {
            name: _threads(n, seconds, work, cpu, name, pg_database) for name, n, work in phases
        }
        out |= {
            "raw_cpu": cpu,
            "raw_method": (
                "SQLAlchemy Core on the app's engine setup (make_engine); one transaction per row; "
                "'inserts' = one row shaped like a case (bench_case_rows: the cases columns and indexes); "
                "'case_transactions' = the statements POST /cases issued until 2026-11-23 (13 + "
                "BEGIN/COMMIT, pre-ping on PostgreSQL) in one transaction; 'lean_case_transactions' = the "
                "same rows written with 7 statements (see lean_case_transaction in the script), the "
                "sequence POST /cases issues since 2026-11-30 for a new customer on SQLite"
            ),
        }
    finally:
        md.drop_all(engine)
        engine.dispose()
        lean_engine.dispose()
    return out


# --------------------------------------------------------------------------------------------
# profile summary (py-spy raw/collapsed output)


def _fn(frame: str) -> str:
    """'open_case (ownwell/cases/service.py:123)' -> 'open_case'"""
    return frame.split(" (", 1)[0]


def _file(frame: str) -> str:
    inner = frame.rpartition(" (")[2]
    return inner.rsplit(":", 1)[0]


# Why the server spent its CPU: the deepest matching frame wins, so every sample is counted once
# and the rows add up to 100 %. (function name, file part) -> label; "*" = any.
PURPOSE: list[tuple[str, str, str]] = [
    ("staff_for_token", "ownwell/", "auth: API token -> staff lookup (SELECT staff JOIN api_tokens)"),
    ("hash_token", "ownwell/", "auth: sha256 of the token"),
    ("_api_context", "ownwell/deps.py", "unit of work: session, BEGIN, commit/close (deps._api_context)"),
    ("unit_of_work", "ownwell/db.py", "unit of work: session, BEGIN, commit/close (deps._api_context)"),
    (
        "recognise_or_create",
        "ownwell/",
        "customer: recognise_or_create (2x identifier SELECT, SAVEPOINT, "
        "INSERT customer+identifier flush, reload)",
    ),
    ("_department_id", "ownwell/", "department check (session.get Department)"),
    ("claim_owner", "ownwell/", "routing: claim_owner (least-loaded UPDATE … RETURNING)"),
    ("cadence_for", "ownwell/", "cadence_for (SELECT cadence_policies)"),
    ("adjust_open_cases", "ownwell/", "adjust_open_cases (UPDATE staff)"),
    ("record", "ownwell/cases/timeline.py", "timeline.record (build CaseEvent)"),
    ("acknowledgement", "ownwell/notifications/render.py", "render acknowledgement text"),
    ("enqueue", "ownwell/notifications/outbox.py", "outbox enqueue (idempotency SELECT + OutboxMessage)"),
    ("case_portal_url", "ownwell/", "portal URL: itsdangerous signing + secret file read (x2)"),
    ("case_out", "ownwell/", "response: case_out (build CaseOut, 2nd portal URL)"),
    ("serialize_response", "fastapi/", "response: FastAPI validate + JSON-serialise CaseOut"),
    ("request_body_to_args", "fastapi/", "request: pydantic CaseIn validation"),
    ("_extract_form_body", "fastapi/", "request: read + parse JSON body"),
    ("json", "starlette/requests.py", "request: read + parse JSON body"),
    ("body", "starlette/requests.py", "request: read + parse JSON body"),
    ("solve_dependencies", "fastapi/", "FastAPI dependency solving (incl. threadpool hops for the dep)"),
    ("run_in_threadpool", "*", "threadpool hops (anyio.to_thread: submit, wake, return)"),
    ("to_thread", "*", "threadpool hops (anyio.to_thread: submit, wake, return)"),
    ("contextmanager_in_threadpool", "*", "threadpool hops (anyio.to_thread: submit, wake, return)"),
    ("WorkerThread.run", "anyio/", "threadpool hops (anyio.to_thread: submit, wake, return)"),
    ("run_sync_in_worker_thread", "anyio/", "threadpool hops (anyio.to_thread: submit, wake, return)"),
    (
        "create_case",
        "ownwell/cases/service.py",
        "create_case/open_case: own code (Case object, subject, ...)",
    ),
    ("open_case", "ownwell/cases/service.py", "create_case/open_case: own code (Case object, subject, ...)"),
    ("create_case", "ownwell/cases/api.py", "route function create_case (own code)"),
    ("FastAPI.__call__", "fastapi/", "ASGI stack: Starlette/FastAPI routing, middleware, exceptions"),
    ("run_asgi", "uvicorn/", "uvicorn: HTTP parse/write, ASGI glue"),
    ("data_received", "uvicorn/", "uvicorn: HTTP parse/write, ASGI glue"),
    ("Runner.run", "asyncio/", "event loop (asyncio/uvloop scheduling, sockets)"),
]
FINAL_FLUSH = "create_case/open_case: final flush (INSERT case, event, outbox + UPDATE)"

# Which layer the CPU was in: the leaf frame's file decides.
LAYERS: list[tuple[str, str]] = [
    ("sqlalchemy/orm/", "SQLAlchemy ORM (unit of work, identity map, loading)"),
    ("sqlalchemy/engine/default.py", "SQLAlchemy Core: engine/execution"),
    ("sqlalchemy/sql/", "SQLAlchemy Core: SQL expression + compile/cache key"),
    ("sqlalchemy/", "SQLAlchemy Core: engine/execution"),
    ("psycopg/", "psycopg (its Python part: query dump, result handling)"),
    ("pydantic", "pydantic"),
    ("fastapi/", "FastAPI"),
    ("starlette/", "Starlette"),
    ("uvicorn/", "uvicorn"),
    ("anyio/", "anyio (threadpool)"),
    ("asyncio/", "asyncio"),
    ("threading.py", "threading (Condition/locks: threadpool wake-ups, pool queue)"),
    ("concurrent/", "threading (Condition/locks: threadpool wake-ups, pool queue)"),
    ("queue.py", "threading (Condition/locks: threadpool wake-ups, pool queue)"),
    ("itsdangerous/", "itsdangerous (portal URL)"),
    ("hmac.py", "itsdangerous (portal URL)"),
    ("ownwell/", "ownwell code"),
    ("json/", "json"),
    ("pathlib.py", "pathlib (secret file)"),
    ("email_validator", "email-validator"),
]
DRIVER_LEAVES = {
    "do_execute",
    "do_executemany",
    "do_commit",
    "do_rollback",
    "do_begin",
    "_do_begin",
    "exec_driver_sql",
    "do_execute_no_params",
}


def summarise_profile(path: Path, top: int = 20) -> dict[str, Any]:
    total = 0
    purpose: Counter[str] = Counter()
    layer: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        for name in set(frames):
            inclusive[_short(name)] += count
        leaf = frames[-1]
        self_time[_short(leaf)] += count
        # purpose: deepest frame that matches
        label = "other (startup, imports, idle loop, ...)"
        for k in range(len(frames) - 1, -1, -1):
            fn, file = _fn(frames[k]), _file(frames[k])
            hit = next(
                (
                    lab
                    for name, where, lab in PURPOSE
                    if fn.endswith(name) and (where == "*" or where in file)
                ),
                None,
            )
            if hit is None:
                continue
            if (
                hit.startswith("create_case/open_case")
                and k + 1 < len(frames)
                and _fn(frames[k + 1]).endswith("Session.flush")
            ):
                hit = FINAL_FLUSH
            label = hit
            break
        purpose[label] += count
        # layer: the leaf's file (C calls show as the Python frame that made them)
        if _fn(leaf).rpartition(".")[2] in DRIVER_LEAVES:
            layer["database driver (C: sqlite3 / psycopg calls, incl. waiting with the GIL held)"] += count
        else:
            lf = _file(leaf)
            layer[next((lab for needle, lab in LAYERS if needle in lf), "other Python (stdlib, ...)")] += (
                count
            )

    def pct(c: Counter[str]) -> dict[str, float]:
        return {k: round(100 * v / total, 1) for k, v in c.most_common()} if total else {}

    return {
        "samples": total,
        "by_purpose_pct": pct(purpose),
        "by_layer_pct": pct(layer),
        "top_inclusive_pct": dict(list(pct(inclusive).items())[:top]),
        "top_self_pct": dict(list(pct(self_time).items())[:top]),
    }


def _short(frame: str) -> str:
    return re.sub(r"\(/[^()]*?/(site-packages|lib/python3\.\d+)/", "(", frame)


class Profiler:
    """py-spy attached to the running server for exactly the measured window."""

    def __init__(self, out: Path, *, idle: bool) -> None:
        self.out = out
        self.idle = idle
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, pid: int, seconds: float) -> None:
        # --gil: only the thread holding the GIL is sampled, so threads waiting for a lock, the
        # database or the network are left out and the percentages are of Python CPU time.
        mode = ["--idle"] if self.idle else ["--gil"]
        argv = [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "-o",
            str(self.out),
            "--rate",
            "250",
            "--subprocesses",
            "--duration",
            str(max(1, int(seconds))),
            *mode,
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self) -> dict[str, Any]:
        assert self.proc is not None
        _, err = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
        out = summarise_profile(self.out)
        out["file"] = str(self.out)
        out["mode"] = "py-spy --idle (wall time)" if self.idle else "py-spy --gil (Python CPU time)"
        return out


# --------------------------------------------------------------------------------------------
# one database


def bench_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"ownwell-bench-{db}-"))
    pg_name = None
    if db == "sqlite":
        url = f"sqlite:///{tmp}/ownwell.db"
        workers = args.sqlite_workers
    else:
        pg_name, url = pg_create()
        workers = args.pg_workers
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWNWELL_")}
    env["OWNWELL_DATABASE_URL"] = url
    if args.secret_key:
        env["OWNWELL_SECRET_KEY"] = args.secret_key
    server_env = dict(env)
    if args.what_if:
        # runtime patches for experiments only (bench/whatif/sitecustomize.py); not the shipped code
        server_env["PYTHONPATH"] = str(Path(__file__).resolve().parent / "whatif")
        server_env["OWNWELL_BENCH_WHATIF"] = args.what_if
    result: dict[str, Any] = {
        "database": db,
        "server_workers": workers,
        "busy_cores_before_start": background_load(),
        **({"what_if": args.what_if.split(",")} if args.what_if else {}),
    }
    server = None
    try:
        t0 = time.perf_counter()
        token, setup_cmds = set_up_org(env, tmp)
        result["setup_s"] = round(time.perf_counter() - t0, 1)
        if args.wait_quiet:
            result["busy_cores_before_start"] = wait_quiet(args.wait_quiet)
        server = Server(env=server_env, cwd=tmp, workers=workers)
        server.wait_ready()
        result["server_command"] = (
            "OWNWELL_DATABASE_URL=" + url + " " + " ".join(["ownwell", *server.argv[1:]])
        )
        departments = fetch_departments(server.base, token)
        load = Load(token=token, departments=departments, returning=args.returning, seed=args.seed)
        meter = CpuMeter(server.proc.pid, pg_database=pg_name)
        profiler = (
            Profiler(args.profile / f"profile-{db}.txt", idle=args.profile_idle) if args.profile else None
        )
        result["load"] = asyncio.run(
            drive(
                port=server.port,
                load=load,
                clients=args.clients,
                warmup=args.warmup,
                seconds=args.seconds,
                kind=args.client,
                meter=meter,
                profiler=profiler,
                pg_database=pg_name,
                per_connection=args.requests_per_connection,
            )
        )
        if profiler is not None:
            result["profile"] = profiler.finish()
            result["load"]["note"] = "profiled run: py-spy perturbs the figures"
        result["new_customers_created"] = len(load.known)
        server.stop()
        server = None
        if not args.no_raw:
            result["raw"] = raw_limits(
                url, threads=args.clients, seconds=args.raw_seconds, pg_database=pg_name
            )
            cps = result["load"]["cases_per_s"]
            r1 = result["raw"]["raw_inserts_per_s_1_thread"]
            rn = result["raw"][f"raw_inserts_per_s_{args.clients}_threads"]
            rt = result["raw"][f"raw_case_transactions_per_s_{args.clients}_threads"]
            result["ratio_cases_to_raw_inserts_1_thread"] = round(cps / r1, 3) if r1 else None
            result[f"ratio_cases_to_raw_inserts_{args.clients}_threads"] = round(cps / rn, 3) if rn else None
            result[f"ratio_cases_to_raw_case_transactions_{args.clients}_threads"] = (
                round(cps / rt, 3) if rt else None
            )
        target = 650 if db == "sqlite" else 800
        load_r = result["load"]
        result["target"] = {
            "cases_per_s": target,
            "p99_ms": 50,
            "met": bool(load_r["cases_per_s"] >= target and (load_r["p99_ms"] or 1e9) < 50),
        }
        result["setup_commands"] = setup_cmds
    finally:
        clean_up(server, pg_name, tmp, keep=args.keep, result=result)
    return result


def code_version() -> dict[str, Any]:
    """The commit, and whether src/ differed from it (others edit the same tree)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=repo, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    import hashlib

    diff = git("diff", "HEAD", "--", "src")
    untracked = git("ls-files", "--others", "--exclude-standard", "--", "src")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_dirty": bool(diff or untracked),
        "src_diff_sha1": hashlib.sha1((diff + untracked).encode()).hexdigest()[:10]
        if diff or untracked
        else None,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_arguments(p)
    p.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw: minimal asyncio HTTP/1.1 client (cheapest); httpx: httpx.AsyncClient",
    )
    p.add_argument(
        "--requests-per-connection",
        type=int,
        default=0,
        metavar="N",
        help="raw client: reconnect after N requests (0 = keep each connection for the whole run). "
        "uvicorn --workers N leaves a keep-alive connection with the worker that accepted it, so "
        "8 long-lived connections can all land on one worker",
    )
    p.add_argument("--sqlite-workers", type=int, default=1)
    p.add_argument("--pg-workers", type=int, default=2)
    p.add_argument("--raw-seconds", type=float, default=5.0, help="duration of each raw-insert phase")
    p.add_argument("--no-raw", action="store_true", help="skip the raw-insert limit")
    p.add_argument(
        "--secret-key",
        default="",
        help="set OWNWELL_SECRET_KEY (default: unset, as a user starts it; the key is "
        "generated into <tmp>/ownwell-data/secret)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        help="attach py-spy to the server over the measured window; raw stacks go to this dir",
    )
    p.add_argument(
        "--profile-idle",
        action="store_true",
        help="py-spy --idle: all threads, waiting included (wall time); default --gil (CPU)",
    )
    p.add_argument(
        "--what-if",
        default="",
        help="comma-separated runtime patches from bench/whatif/sitecustomize.py (experiments only)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help="before each database, wait up to S seconds for other processes to leave the CPUs idle",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server.log, SQLite file)")
    p.add_argument("--json-out", type=Path)
    return p


def main() -> None:
    args = build_parser().parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        if not (BIN / "py-spy").exists():
            sys.exit(f"--profile needs py-spy: {BIN / 'pip'} install py-spy")
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    report: dict[str, Any] = {
        "benchmark": "POST /api/v1/cases through `ownwell serve`",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "clients": args.clients,
            "client": args.client,
            "warmup_s": args.warmup,
            "seconds": args.seconds,
            "returning_share": args.returning,
            "requests_per_connection": args.requests_per_connection,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
        },
        "code": code_version(),
        "results": {},
    }
    for db in dbs:
        print(f"[bench] {db} ...", file=sys.stderr, flush=True)
        report["results"][db] = bench_one(db, args)
        r = report["results"][db]
        print(
            f"[bench] {db}: {r['load']['cases_per_s']} cases/s p50 {r['load']['p50_ms']} ms "
            f"p99 {r['load']['p99_ms']} ms errors {r['load']['errors']}",
            file=sys.stderr,
            flush=True,
        )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
