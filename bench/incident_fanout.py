"""Incident fan-out (P11): how fast 100,000 affected customers get their message queued, against
raw inserts of the very same outbox rows into the same database in the same run.

For each database (a fresh SQLite file in a temp dir, and/or a fresh PostgreSQL database that is
dropped afterwards) this:

1. sets the organisation up with the CLI (`ownwell user create ... --department Billing` for an
   admin and four concierges, `ownwell token create`) and writes N customers with one e-mail
   each (every 100th asked not to be contacted) with two Core inserts;
2. starts `ownwell serve --port <free> --no-worker` and times `POST /api/v1/incidents` for 10,000
   customers and then for all N (the request records every customer in a group with a
   concierge; the messages are queued by the worker);
3. runs the worker's jobs in this process (`ownwell.worker.run_jobs`, the code `ownwell worker`
   runs on every sweep) until nothing is left to fan out, timed: the first message of the big
   incident, then (after `POST .../updates`) its update; then times `GET /api/v1/incidents/{id}`
   and checks its delivery counts against the outbox;
4. inserts the same N outbox rows the fan-out wrote (read back) into a bench table with the
   outbox's columns, indexes and foreign keys through Core executemany in chunks of 5,000 ("raw
   executemany", the ceiling of this insert method), and on PostgreSQL with COPY (the ceiling of
   the database); the same for the N incident_customers rows the POST wrote;
5. prints JSON (and writes it with --json-out).

Usage:  .venv/bin/python bench/incident_fanout.py [--db sqlite|postgresql|both] [--customers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from common import free_port, pg_create, pg_drop, run_cli
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)

from ownwell.clock import SystemClock
from ownwell.config import Settings
from ownwell.customers.models import Customer, CustomerIdentifier
from ownwell.db import make_engine, make_session_factory
from ownwell.incidents.models import IncidentCustomer
from ownwell.notifications.models import OutboxMessage
from ownwell.worker import run_jobs

cli = run_cli  # this script's name for it

BIN = Path(sys.executable).parent
OWNWELL = str(BIN / "ownwell")
CONCIERGES = ["Sam Carter", "Noor Haddad", "Lena Berg", "Tom Okafor"]
CHUNK = 5_000


def set_up(env: dict[str, str], cwd: Path) -> tuple[str, list[str]]:
    commands = [["user", "create", "--email", "admin@bench.test", "--name", "Admin", "--role", "admin"]]
    for name in CONCIERGES:
        handle = name.lower().replace(" ", ".")
        commands.append(["user", "create", "--email", f"{handle}@bench.test", "--name", name, "--role",
                         "agent", "--department", "Billing"])  # fmt: skip
    for args in commands:
        cli(args, env=env, cwd=cwd)
    token = cli(["token", "create", "--email", "admin@bench.test"], env=env, cwd=cwd).strip()
    return token, [" ".join(c) for c in commands] + ["token create --email admin@bench.test"]


def write_customers(url: str, n: int, now: datetime) -> tuple[list[str], float]:
    """n customers, one e-mail each, every 100th do-not-contact: two Core inserts per chunk."""
    engine = make_engine(url)
    ids = [f"cus_8{i:025d}" for i in range(n)]
    started = time.perf_counter()
    with engine.begin() as conn:
        for start in range(0, n, CHUNK):
            part = range(start, min(start + CHUNK, n))
            conn.execute(insert(Customer.__table__), [
                {"id": ids[i], "name": f"Customer {i}", "personal_contact_id": None,
                 "preferred_channel": "email", "quiet_start": None, "quiet_end": None,
                 "timezone": "Europe/Paris", "language": None, "topics": [],
                 "do_not_contact": i % 100 == 99, "created_at": now, "updated_at": now}
                for i in part
            ])  # fmt: skip
            conn.execute(insert(CustomerIdentifier.__table__), [
                {"id": f"cid_8{i:025d}", "customer_id": ids[i], "kind": "email", "system": "",
                 "value": f"customer{i}@example.com"}
                for i in part
            ])  # fmt: skip
    seconds = time.perf_counter() - started
    engine.dispose()
    return ids, seconds


class Server:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.log = open(cwd / "server.log", "w")  # noqa: SIM115
        argv = [OWNWELL, "serve", "--port", str(self.port), "--no-worker"]
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
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


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def fan_out(factory: Any, settings: Settings) -> tuple[int, float]:
    """Run the worker's jobs until no incident message is left to queue."""
    total, seconds = 0, 0.0
    while True:
        done, took = timed(lambda: run_jobs(factory, SystemClock(), settings))
        seconds += took
        total += done["incidents.fan_out"]
        if done["incidents.fan_out"] == 0:
            return total, seconds


def bench_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Tables shaped like outbox_messages and incident_customers: columns, keys, indexes, FKs."""
    for name in ("customers", "staff", "cases", "incidents"):
        Table(name, metadata, Column("id", String(40), primary_key=True))
    outbox = Table(
        "bench_outbox",
        metadata,
        Column("id", String(40), primary_key=True),
        Column("idempotency_key", String(200), unique=True, nullable=False),
        Column("case_id", String(40), ForeignKey("cases.id"), index=True),
        Column("channel", String(20), nullable=False),
        Column("recipient", String(320), nullable=False),
        Column("recipient_customer_id", String(40), ForeignKey("customers.id")),
        Column("recipient_staff_id", String(40), ForeignKey("staff.id")),
        Column("kind", String(40), nullable=False),
        Column("subject", String(300), nullable=False),
        Column("body", Text, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("last_error", Text),
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True)),
        Column("claimed_until", DateTime(timezone=True)),
        Index("ix_bench_outbox_status_next", "status", "next_attempt_at"),
    )
    members = Table(
        "bench_members",
        metadata,
        Column("incident_id", String(40), ForeignKey("incidents.id"), nullable=False),
        Column("customer_id", String(40), ForeignKey("customers.id"), nullable=False),
        Column("group_no", Integer, nullable=False),
        Column("concierge_id", String(40), ForeignKey("staff.id"), nullable=False),
        PrimaryKeyConstraint("incident_id", "customer_id"),
    )
    return outbox, members


def raw_inserts(url: str, incident_id: str) -> dict[str, Any]:
    """The rows the fan-out and the POST wrote, written again: executemany (and COPY)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        key = f"incident:{incident_id}:1:"
        outbox_rows = [dict(r._mapping) for r in conn.execute(
            select(OutboxMessage.__table__).where(OutboxMessage.idempotency_key.startswith(key))
        )]  # fmt: skip
        member_rows = [dict(r._mapping) for r in conn.execute(
            select(IncidentCustomer.__table__).where(IncidentCustomer.incident_id == incident_id)
        )]  # fmt: skip
    metadata = MetaData()
    outbox, members = bench_tables(metadata)
    outbox.create(engine)
    members.create(engine)
    found: dict[str, Any] = {"outbox_rows": len(outbox_rows), "member_rows": len(member_rows)}
    for label, table, rows in (("outbox", outbox, outbox_rows), ("members", members, member_rows)):
        started = time.perf_counter()
        with engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                conn.execute(insert(table), rows[start : start + CHUNK])
        found[f"{label}_executemany_rows_per_s"] = round(len(rows) / (time.perf_counter() - started))
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table.name}"))
            columns = [c.name for c in table.columns]
            started = time.perf_counter()
            with engine.begin() as conn:
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([json.dumps(row[c]) if c == "headers" else row[c] for c in columns])
            found[f"{label}_copy_rows_per_s"] = round(len(rows) / (time.perf_counter() - started))
    engine.dispose()
    return found


def run_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"ownwell-incidents-{db}-"))
    pg_name = None
    if db == "postgresql":
        pg_name, url = pg_create()
    else:
        url = f"sqlite:///{work}/ownwell.db"
    env = {**os.environ, "OWNWELL_DATABASE_URL": url, "OWNWELL_SECRET_KEY": "bench-secret"}
    env.pop("OWNWELL_SMTP_HOST", None)  # no SMTP server: e-mail is queued as `held`
    settings = Settings(database_url=url, secret_key="bench-secret", smtp_host=None)
    factory = make_session_factory(make_engine(url))
    try:
        token, commands = set_up(env, work)
        ids, customers_s = write_customers(url, args.customers, datetime.now(UTC))
        server = Server(env, work)
        http = httpx.Client(base_url=server.base + "/api/v1", headers={"authorization": f"Bearer {token}"},
                            timeout=600)  # fmt: skip
        try:
            department = http.get("/departments").json()["items"][0]["id"]
            owner = http.get("/staff").json()["items"][0]["id"]

            def declare(customer_ids: list[str]) -> dict[str, Any]:
                response = http.post("/incidents", json={
                    "title": "Double card charges", "caused_by_department_id": department, "owner_id": owner,
                    "customer_ids": customer_ids,
                    "message": "Our payment provider charged some cards twice this morning. We are "
                               "refunding every double charge now.",
                })  # fmt: skip
                assert response.status_code == 201, response.text
                return response.json()

            small, post_small_s = timed(lambda: declare(ids[:10_000]))
            _, fanout_small_s = fan_out(factory, settings)
            big, post_big_s = timed(lambda: declare(ids))
            queued_first, fanout_first_s = fan_out(factory, settings)
            update, post_update_s = timed(
                lambda: http.post(f"/incidents/{big['id']}/updates", json={"message": "All refunded."})
            )
            assert update.status_code == 201, update.text
            queued_update, fanout_update_s = fan_out(factory, settings)
            detail, get_s = timed(lambda: http.get(f"/incidents/{big['id']}").json())
        finally:
            http.close()
            server.stop()
        silent = sum(1 for i in range(args.customers) if i % 100 == 99)
        expected = {"queued": 0, "held": 2 * (args.customers - silent), "sent": 0, "failed": 0,
                    "not_contacted": 2 * silent, "pending": 0}  # fmt: skip
        raw = raw_inserts(url, big["id"])
        fanout_rate = (args.customers - silent) / fanout_first_s
        return {
            "database": db,
            "customers": args.customers,
            "do_not_contact": silent,
            "concierges": len(CONCIERGES),
            "groups": len(big["groups"]),
            "setup_customers_s": round(customers_s, 2),
            "post_incident_10k_s": round(post_small_s, 2),
            "fanout_10k_s": round(fanout_small_s, 2),
            "post_incident_s": round(post_big_s, 2),
            "fanout_first_message_s": round(fanout_first_s, 2),
            "first_message_queued_end_to_end_s": round(post_big_s + fanout_first_s, 2),
            "post_update_s": round(post_update_s, 2),
            "fanout_update_s": round(fanout_update_s, 2),
            "get_incident_s": round(get_s, 2),
            "fanout_messages_per_s": round(fanout_rate),
            **raw,
            "fanout_vs_outbox_executemany": round(fanout_rate / raw["outbox_executemany_rows_per_s"], 3),
            "customers_handled": [queued_first, queued_update],
            "delivery": detail["delivery"],
            "delivery_matches_outbox": detail["delivery"] == expected,
            "small_incident_groups": len(small["groups"]),
            "setup": [f"ownwell {c}" for c in commands],
        }
    finally:
        if pg_name:
            pg_drop(pg_name)
        shutil.rmtree(work, ignore_errors=True)


def machine() -> dict[str, Any]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor()
    )  # fmt: skip
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform()}  # fmt: skip


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    result: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv), "load_before": load()}
    result["runs"] = [run_one(db, args) for db in dbs]
    result["load_after"] = load()
    out = json.dumps(result, indent=2)
    print(out)
    if args.json_out:
        args.json_out.write_text(out + "\n")


if __name__ == "__main__":
    main()
