"""Batch ingest of fulfilment events (`POST /api/v1/order-events`) through a real `ownwell
serve`, with delay detection on, against plain inserts into the same database in the same run.

For each database (a fresh SQLite file in a temp dir, and/or a fresh PostgreSQL database that is
dropped afterwards) this:

1. sets the organisation up with the CLI (`ownwell user create ... --department ...`,
   `ownwell token create`) and imports N orders with `ownwell import orders FILE.csv`, promised
   two days from now, in a temp working directory;
2. starts `ownwell serve --port <free> --no-worker [--workers W]` and waits for /healthz;
3. posts every order's events in batches of B from C concurrent keep-alive clients, in three
   phases: `shipped` for all; `delayed` past the promise for a --trouble share (default 5 %),
   `delayed` within the promise for 10 % and `exception` for 1 % (every problem opens a
   proactive case with its notice); `delivered` for all, which closes the loop on each trouble
   case. Every item must come back `accepted`; then the first phase is replayed and every item
   must be a `duplicate`;
4. stops the server and inserts the same number of rows, shaped like `order_events` (a bench
   table with its columns, unique constraint and foreign key to the same orders), from C
   threads: one INSERT per row with one transaction per batch of B ("plain inserts", the
   reference), and one executemany per batch (the raw ceiling);
5. prints JSON (and writes it with --json-out).

Usage:  .venv/bin/python bench/order_ingest.py [--db sqlite|postgresql|both] [--orders N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from common import free_port, pg_create, pg_drop, run_cli
from sqlalchemy import Column, DateTime, ForeignKey, MetaData, String, Table, Text, UniqueConstraint, text

from ownwell.db import make_engine

cli = run_cli  # this script's name for it

BIN = Path(sys.executable).parent
OWNWELL = str(BIN / "ownwell")
DEPARTMENTS = {"Shipping": ["sam.carter", "noor.haddad"], "Warehouse": ["lena.berg", "tom.okafor"]}


def set_up(env: dict[str, str], cwd: Path, *, orders: int, now: datetime) -> tuple[str, list[str]]:
    """The organisation and its orders, through the CLI; returns the token and the commands."""
    commands = [["user", "create", "--email", "admin@bench.test", "--name", "Admin", "--role", "admin"]]
    for department, handles in DEPARTMENTS.items():
        for handle in handles:
            name = handle.replace(".", " ").title()
            commands.append(["user", "create", "--email", f"{handle}@bench.test", "--name", name, "--role",
                             "agent", "--department", department])  # fmt: skip
    for args in commands:
        cli(args, env=env, cwd=cwd)
    token = cli(["token", "create", "--email", "admin@bench.test"], env=env, cwd=cwd).strip()
    promised = (now + timedelta(days=2)).isoformat()
    lines = ["external_id,customer_email,customer_name,promised_by,department"]
    names = list(DEPARTMENTS)
    for i in range(orders):
        lines.append(
            f"B-{i:06d},customer{i % (orders // 2 or 1)}@example.com,Customer {i},{promised},{names[i % 2]}"
        )
    (cwd / "orders.csv").write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    summary = cli(["import", "orders", "orders.csv"], env=env, cwd=cwd)
    print(f"[bench] import: {summary.strip()} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return token, [*[" ".join(c) for c in commands], "token create --email admin@bench.test",
                   "import orders orders.csv"]  # fmt: skip


def phases(orders: int, now: datetime, *, trouble: float, seed: int) -> list[list[dict[str, Any]]]:
    """shipped for every order; then `delayed` with an ETA after the promise for a `trouble`
    share (each opens a proactive case), `delayed` within the promise for 10 % and `exception`
    for 1 % (each opens a case too); then delivered for every order, which closes the loop on
    each trouble case."""
    rng = random.Random(seed)
    promised = now + timedelta(days=2)
    later = (now + timedelta(hours=1)).isoformat()
    shipped, news, delivered = [], [], []
    for i in range(orders):
        ref = f"B-{i:06d}"
        shipped.append({"order_external_id": ref, "type": "shipped", "occurred_at": now.isoformat()})
        roll = rng.random()
        if roll < trouble + 0.10:
            eta = promised + (timedelta(days=2) if roll < trouble else -timedelta(hours=6))
            news.append(
                {"order_external_id": ref, "type": "delayed", "occurred_at": later, "eta": eta.isoformat()}
            )
        elif roll < trouble + 0.11:
            news.append(
                {"order_external_id": ref, "type": "exception", "occurred_at": later, "note": "Damaged"}
            )
        at = (now + timedelta(days=3)).isoformat()
        delivered.append({"order_external_id": ref, "type": "delivered", "occurred_at": at})
    return [shipped, news, delivered]


def post_all(
    base: str, token: str, items: list[dict[str, Any]], *, batch: int, clients: int
) -> dict[str, Any]:
    """Post the items in batches from `clients` threads; count item statuses and seconds."""
    work: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for start in range(0, len(items), batch):
        work.put(items[start : start + batch])
    statuses: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=300) as http:
            while True:
                try:
                    chunk = work.get_nowait()
                except queue.Empty:
                    return
                response = http.post("/api/v1/order-events", json={"items": chunk})
                with lock:
                    if response.status_code != 200:
                        errors.append(f"{response.status_code}: {response.text[:300]}")
                        continue
                    for item in response.json()["items"]:
                        statuses[item["status"]] = statuses.get(item["status"], 0) + 1
                        if item["status"] == "rejected" and len(errors) < 5:
                            errors.append(json.dumps(item))

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - started, "statuses": statuses, "errors": errors}


class Server:
    def __init__(self, env: dict[str, str], cwd: Path, *, workers: int) -> None:
        self.port = free_port()
        self.log = open(cwd / "server.log", "w")  # noqa: SIM115
        argv = [OWNWELL, "serve", "--port", str(self.port), "--no-worker", "--workers", str(workers)]
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    time.sleep(1.0 if workers > 1 else 0)  # let the other processes come up too
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not answer /healthz in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def plain_inserts(url: str, rows: list[dict[str, Any]], *, batch: int, clients: int, many: bool) -> float:
    """Rows shaped like order_events into a bench table; returns rows per second."""
    engine = make_engine(url)
    metadata = MetaData()
    table = Table(
        f"bench_order_events_{'many' if many else 'rows'}",
        metadata,
        Column("id", String(40), primary_key=True),
        Column("order_id", String(40), ForeignKey("orders.id"), nullable=False),
        Column("type", String(20), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("eta", DateTime(timezone=True)),
        Column("note", Text),
        Column("received_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("order_id", "type", "occurred_at"),
    )
    Table("orders", metadata, Column("id", String(40), primary_key=True))
    table.create(engine)
    chunks: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for start in range(0, len(rows), batch):
        chunks.put(rows[start : start + batch])

    def writer() -> None:
        while True:
            try:
                chunk = chunks.get_nowait()
            except queue.Empty:
                return
            with engine.begin() as conn:
                if many:
                    conn.execute(table.insert(), chunk)
                else:
                    for row in chunk:
                        conn.execute(table.insert(), row)

    started = time.perf_counter()
    threads = [threading.Thread(target=writer) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    engine.dispose()
    return len(rows) / seconds


def event_rows(url: str, items: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM orders")).all())
    engine.dispose()
    return [
        {
            "id": f"oev_{uuid.uuid4().hex[:27]}",
            "order_id": ids[item["order_external_id"]],
            "type": item["type"],
            "occurred_at": datetime.fromisoformat(item["occurred_at"]),
            "eta": datetime.fromisoformat(item["eta"]) if "eta" in item else None,
            "note": item.get("note"),
            "received_at": now,
        }
        for item in items
    ]


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = {
            "proactive_cases": conn.scalar(text("SELECT count(*) FROM cases WHERE proactive")),
            "resolved_by_delivery": conn.scalar(
                text("SELECT count(*) FROM cases WHERE proactive AND status = 'resolved'")
            ),
            "outbox_messages": conn.scalar(text("SELECT count(*) FROM outbox_messages")),
            "order_events": conn.scalar(text("SELECT count(*) FROM order_events")),
        }
    engine.dispose()
    return found


def run_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"ownwell-orders-{db}-"))
    pg_name = None
    if db == "postgresql":
        pg_name, url = pg_create()
    else:
        url = f"sqlite:///{work}/ownwell.db"
    env = {**os.environ, "OWNWELL_DATABASE_URL": url, "OWNWELL_SECRET_KEY": "bench-secret"}
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        token, commands = set_up(env, work, orders=args.orders, now=now)
        plan = phases(args.orders, now, trouble=args.trouble, seed=args.seed)
        server = Server(env, work, workers=args.workers)
        try:
            runs = [post_all(server.base, token, p, batch=args.batch, clients=args.clients) for p in plan]
            replay = post_all(server.base, token, plan[0], batch=args.batch, clients=args.clients)
        finally:
            server.stop()
        total = sum(len(p) for p in plan)
        seconds = sum(r["seconds"] for r in runs)
        accepted = sum(r["statuses"].get("accepted", 0) for r in runs)
        errors = [e for r in [*runs, replay] for e in r["errors"]]
        found = counts(url)
        rows = event_rows(url, [item for p in plan for item in p], now)
        plain = plain_inserts(url, rows, batch=args.batch, clients=args.clients, many=False)
        many = plain_inserts(url, rows, batch=args.batch, clients=args.clients, many=True)
        api = accepted / seconds
        return {
            "database": db,
            "orders": args.orders,
            "trouble_share": args.trouble,
            "events": total,
            "batch": args.batch,
            "clients": args.clients,
            "server_workers": args.workers,
            "api_events_per_s": round(api),
            "api_phases": [
                {"events": len(p), "seconds": round(r["seconds"], 2)} for p, r in zip(plan, runs, strict=True)
            ],
            "replay_duplicates_per_s": round(len(plan[0]) / replay["seconds"]),
            "replay_all_duplicate": replay["statuses"] == {"duplicate": len(plan[0])},
            "plain_inserts_per_s": round(plain),
            "executemany_per_s": round(many),
            "api_vs_plain": round(api / plain, 3),
            "api_vs_executemany": round(api / many, 3),
            "all_accepted": accepted == total and not errors,
            "errors": errors[:5],
            **found,
            "setup": [f"ownwell {c}" for c in commands],
        }
    finally:
        if pg_name:
            pg_drop(pg_name)
        if args.keep:
            print(f"[bench] kept {work} (server.log, orders.csv)", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def machine() -> dict[str, Any]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor()
    )  # fmt: skip
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="web processes of `ownwell serve`")
    parser.add_argument(
        "--trouble", type=float, default=0.05, help="share of orders delayed past the promise"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server.log) afterwards")
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    result = {"machine": machine(), "command": " ".join(sys.argv), "runs": [run_one(db, args) for db in dbs]}
    out = json.dumps(result, indent=2)
    print(out)
    if args.json_out:
        args.json_out.write_text(out + "\n")


if __name__ == "__main__":
    main()
