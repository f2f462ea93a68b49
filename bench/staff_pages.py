"""Staff pages at scale (issue #5): with 1,000,000 cases and 100,000 customers in PostgreSQL, how
fast are the agenda API, the My day page, a department's case list and search?

1. creates a scratch PostgreSQL database (bench/common.py pg_create), migrates it with
   `ownwell db upgrade`, and bulk-loads it with COPY: 8 departments, 200 staff, N customers
   (an e-mail each, a phone for every third, a shop id for every second), 3 orders per
   customer, M cases over the past year (most old ones resolved or closed, most of the last two
   weeks open; 40 % attributed to a department, a quarter of those proactive), the first
   timeline event of each case, a promise on every open case and a kept one on every
   tenth older case; then ANALYZE;
2. serves the app in this process (FastAPI TestClient, FrozenClock at the data's "now") and
   times, as one agent with a typical load (about 300 open cases):
   - `GET /api/v1/agenda` (p50 target < 50 ms),
   - `GET /` My day (p50 < 150 ms),
   - a department's case list: `GET /api/v1/cases?caused_by_department_id=&status=open`
     and the department board page `GET /departments/{id}` (p50 < 50 ms),
   - search `GET /cases?q=` over a mix of e-mail, phone, name, order number and a word
     (p95 < 100 ms);
3. records every SQL statement of one request of each and prints its EXPLAIN (ANALYZE) plan,
   with the indexes used and any sequential scan;
4. prints JSON (and writes it with --json-out); drops the database unless --keep.

Usage:  .venv/bin/python bench/staff_pages.py [--cases 1000000] [--customers 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import pg_create, pg_drop, pg_url, run_cli

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
DEPARTMENTS = ["Shipping", "Billing", "Warehouse", "Returns", "Product", "Payments", "Support", "Sales"]
WORDS = ["parcel", "refund", "broken", "late", "invoice", "missing", "damaged", "wrong", "size", "colour"]
TARGETS = {
    "agenda": ("p50", 50),
    "my_day": ("p50", 150),
    "department_cases": ("p50", 50),
    "department_page": ("p50", 50),
    "search": ("p95", 100),
}


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(ALPHABET[rem])
    return "".join(reversed(chars))


class Ids:
    """Ids shaped like ownwell.kit.ids.new_id, ordered by the moment given (as the app's are)."""

    def __init__(self) -> None:
        self.counter = 0

    def __call__(self, prefix: str, at: datetime) -> str:
        self.counter += 1
        return f"{prefix}_{_encode(int(at.timestamp() * 1000), 10)}{_encode(self.counter, 16)}"


def _ts(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _copy(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def load(dsn: str, *, customers: int, cases: int, seed: int = 7) -> dict[str, Any]:
    import psycopg

    rnd = random.Random(seed)
    ids = Ids()
    started = time.perf_counter()
    year_ago = NOW - timedelta(days=365)
    with psycopg.connect(dsn) as conn:
        deps = [(ids("dep", year_ago), name) for name in DEPARTMENTS]
        _copy(
            conn,
            "departments",
            ["id", "name", "name_key", "created_at"],
            ((d, n, n.lower(), _ts(year_ago)) for d, n in deps),
        )
        staff = []
        for n in range(200):
            role = "admin" if n >= 195 else "supervisor" if n >= 180 else "agent"
            staff.append(
                (ids("stf", year_ago), f"Staff {n:03}", f"staff{n}@acme.test", role, deps[n % len(deps)][0])
            )
        _copy(
            conn,
            "staff",
            [
                "id",
                "name",
                "email",
                "role",
                "on_duty",
                "open_case_count",
                "authority_refund",
                "authority_credit",
                "authority_replacement",
                "authority_goodwill",
                "created_at",
                "failed_logins",
            ],
            (
                (s, name, email, role, True, 0, 50, 50, 50, 20, _ts(year_ago), 0)
                for s, name, email, role, _ in staff
            ),
        )
        _copy(conn, "staff_departments", ["staff_id", "department_id"], ((s[0], s[4]) for s in staff))
        agents = [s for s in staff if s[3] == "agent"]

        customer_ids = [ids("cus", year_ago + timedelta(seconds=n)) for n in range(customers)]
        _copy(
            conn,
            "customers",
            [
                "id",
                "name",
                "preferred_channel",
                "timezone",
                "topics",
                "do_not_contact",
                "created_at",
                "updated_at",
            ],
            (
                (
                    c,
                    f"{rnd.choice(['Mia', 'Kai', 'Noor', 'Lea', 'Otto', 'Ava'])} Customer{n}",
                    "email",
                    "UTC",
                    "[]",
                    False,
                    _ts(year_ago),
                    _ts(year_ago),
                )
                for n, c in enumerate(customer_ids)
            ),
        )

        def identifiers() -> Any:
            for n, c in enumerate(customer_ids):
                yield ids("cid", year_ago), c, "email", "", f"customer{n}@example.com"
                if n % 3 == 0:
                    yield ids("cid", year_ago), c, "phone", "", f"+4470{n:08}"
                if n % 2 == 0:
                    yield ids("cid", year_ago), c, "external", "shop", f"S{n:07}"

        _copy(conn, "customer_identifiers", ["id", "customer_id", "kind", "system", "value"], identifiers())

        orders: list[tuple[str, str]] = []

        def order_rows() -> Any:
            for n in range(customers * 3):
                at = year_ago + timedelta(seconds=n * 365 * 86400 // (customers * 3))
                oid = ids("ord", at)
                orders.append((oid, f"A-{n:07}"))
                cust = customer_ids[rnd.randrange(customers)]
                yield (
                    oid,
                    f"A-{n:07}",
                    cust,
                    deps[n % len(deps)][0],
                    _ts(at + timedelta(days=5)),
                    "delivered",
                    _ts(at),
                    _ts(at),
                )

        _copy(
            conn,
            "orders",
            [
                "id",
                "external_id",
                "customer_id",
                "department_id",
                "promised_by",
                "status",
                "created_at",
                "updated_at",
            ],
            order_rows(),
        )

        case_rows, event_rows, promise_rows = [], [], []
        span = (NOW - year_ago).total_seconds()
        for n in range(cases):
            at = year_ago + timedelta(seconds=span * n / cases)
            recent = NOW - at < timedelta(days=14)
            roll = rnd.random()
            if recent:
                status = "open" if roll < 0.7 else "waiting_on_customer" if roll < 0.8 else "resolved"
            else:
                status = "open" if roll < 0.03 else "resolved" if roll < 0.2 else "closed"
            active = status in ("open", "waiting_on_customer")
            cid = ids("cas", at)
            owner = agents[rnd.randrange(len(agents))][0]
            attributed = rnd.random() < 0.4
            dep = deps[rnd.randrange(len(deps))][0] if attributed else None
            proactive = attributed and rnd.random() < 0.25
            order_id, order_ext = orders[rnd.randrange(len(orders))]
            word = WORDS[n % len(WORDS)]
            subject = f"{word.capitalize()} order {order_ext}"
            answered = (
                None if (active and rnd.random() < 0.05) else at + timedelta(hours=rnd.uniform(0.2, 30))
            )
            due = NOW + timedelta(hours=rnd.uniform(-48, 48)) if active else None
            done = None if active else at + timedelta(days=rnd.uniform(1, 10))
            case_rows.append(
                (
                    cid,
                    customer_ids[rnd.randrange(customers)],
                    owner,
                    subject,
                    "complaint",
                    "proactive" if proactive else "email",
                    status,
                    proactive,
                    dep,
                    order_id,
                    _ts(due),
                    _ts(answered),
                    _ts(done),
                    _ts(done if status == "closed" else None),
                    0,
                    _ts(at),
                    _ts(done or at),
                )
            )
            event_rows.append(
                (
                    ids("evt", at),
                    cid,
                    _ts(at),
                    "case_created",
                    None,
                    "customer",
                    f"My {word} order {order_ext} is a problem, please help.",
                    "{}",
                )
            )
            if active or n % 10 == 0:
                pdue = NOW + timedelta(hours=rnd.uniform(-24, 72)) if active else at + timedelta(days=2)
                promise_rows.append(
                    (
                        ids("com", at),
                        cid,
                        owner,
                        "Call the customer back",
                        _ts(pdue),
                        "open" if active else "kept",
                        _ts(at),
                        None if active else _ts(pdue),
                    )
                )
        _copy(
            conn,
            "cases",
            [
                "id",
                "customer_id",
                "owner_id",
                "subject",
                "kind",
                "channel",
                "status",
                "proactive",
                "caused_by_department_id",
                "order_id",
                "next_update_due",
                "first_response_at",
                "resolved_at",
                "closed_at",
                "reopen_count",
                "created_at",
                "updated_at",
            ],
            case_rows,
        )
        _copy(
            conn,
            "case_events",
            ["id", "case_id", "at", "kind", "actor_staff_id", "visibility", "text", "data"],
            event_rows,
        )
        _copy(
            conn,
            "commitments",
            ["id", "case_id", "owner_id", "text", "due_at", "status", "created_at", "closed_at"],
            promise_rows,
        )
        conn.execute(
            "UPDATE staff SET open_case_count = c.n FROM (SELECT owner_id, count(*) AS n FROM cases "
            "WHERE status IN ('open', 'waiting_on_customer') GROUP BY owner_id) c WHERE staff.id = c.owner_id"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    active = sum(1 for r in case_rows if r[6] in ("open", "waiting_on_customer"))
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "customers": customers,
        "cases": cases,
        "active_cases": active,
        "orders": len(orders),
        "events": len(event_rows),
        "commitments": len(promise_rows),
        "departments": [d for d, _ in deps],
        "agent": agents[0][0],
    }


class Recorder:
    """Every statement the engine runs while `on`, with its parameters, for EXPLAIN."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if self.on:
            self.statements.append((statement, parameters))


def _explain(dsn: str, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    import psycopg

    plans = []
    with psycopg.connect(dsn) as conn:
        for statement, params in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).fetchall()
            text = "\n".join(r[0] for r in rows)
            ms = float(m.group(1)) if (m := re.search(r"Execution Time: ([\d.]+) ms", text)) else None
            plans.append(
                {
                    "sql": " ".join(statement.split())[:300],
                    "execution_ms": ms,
                    "indexes": sorted(
                        set(
                            re.findall(
                                r"(?:Index|Index Only|Bitmap Index) Scan (?:Backward )?(?:using|on) (\w+)",
                                text,
                            )
                        )
                    ),
                    "seq_scans": sorted(set(re.findall(r"Seq Scan on (\w+)", text))),
                    "plan": text,
                }
            )
    return plans


# What the plans asked for on 2026-11-30; migration 0013_search_indexes now creates all of them
# (same names), so --proposed-indexes changes nothing on a database migrated to 0013 or later.
# Kept to measure the difference on a database migrated to an earlier revision.
PROPOSED_INDEXES = [
    # The department board and its case list: open cases per department, next update due first,
    # counted from the index alone (partial: closed cases are most of the table).
    "CREATE INDEX IF NOT EXISTS ix_cases_department_active_due ON cases (caused_by_department_id, "
    "next_update_due) INCLUDE (proactive) WHERE status IN ('open', 'waiting_on_customer')",
    # Department error rate (metrics.repository.department_errors): cases and orders per period.
    "CREATE INDEX IF NOT EXISTS ix_cases_department_created ON cases (caused_by_department_id, created_at)",
    "CREATE INDEX IF NOT EXISTS ix_orders_department_created ON orders (department_id, created_at)",
    # Search (web.queries): lower(column) LIKE '%text%' needs trigram indexes on lower(column).
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_case_events_text_trgm ON case_events USING gin (lower(text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_cases_subject_trgm ON cases USING gin (lower(subject) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_customers_name_trgm ON customers USING gin (lower(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_customer_identifiers_value_trgm ON customer_identifiers "
    "USING gin (lower(value) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ix_orders_external_id_lower ON orders (lower(external_id))",
]


def create_proposed_indexes(dsn: str) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in PROPOSED_INDEXES:
            conn.execute(statement)
        conn.execute("ANALYZE")
    return round(time.perf_counter() - started, 1)


def _pct(samples: list[float], p: int) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))], 1)


def measure(url: str, dsn: str, facts: dict[str, Any], *, runs: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from ownwell.app import create_app
    from ownwell.clock import FrozenClock
    from ownwell.config import Settings
    from ownwell.db import make_engine, unit_of_work
    from ownwell.staff import repository as staff_repository
    from ownwell.staff.service import create_token
    from ownwell.web.session import COOKIE, start_session

    settings = Settings(database_url=url, secret_key="b" * 48, base_url="http://bench.test", smtp_host=None)
    engine = make_engine(url)
    recorder = Recorder(engine)
    app = create_app(settings=settings, clock=FrozenClock(NOW), engine=engine)
    with unit_of_work(app.state.session_factory) as session:
        agent = staff_repository.get_staff(session, facts["agent"])
        token = create_token(session, staff=agent, now=NOW)
        cookie = start_session(session, staff=agent, now=NOW)
    department = facts["departments"][0]
    searches = [
        "customer4242@example.com",
        "+447000003003",
        "Noor Customer777",
        "A-0012345",
        "S0000420",
        "damaged",
        "customer99999@example.com",
        "Customer5",
    ]
    bearer = {"Authorization": f"Bearer {token}"}
    targets: dict[str, tuple[str, dict[str, str], list[dict[str, str]]]] = {
        "agenda": ("/api/v1/agenda", bearer, [{}]),
        "my_day": ("/", {}, [{}]),
        "department_cases": (
            "/api/v1/cases",
            bearer,
            [{"caused_by_department_id": department, "status": "open", "limit": "50"}],
        ),
        "department_page": (f"/departments/{department}", {}, [{}]),
        "search": ("/cases", {}, [{"q": q} for q in searches]),
    }
    results: dict[str, Any] = {}
    with TestClient(app) as client:
        client.cookies.set(COOKIE, cookie)
        for name, (path, headers, params_list) in targets.items():
            for params in params_list:  # warm-up: plans cached, pages in memory
                assert client.get(path, params=params, headers=headers).status_code == 200, (name, params)
            samples: list[float] = []
            for i in range(runs):
                params = params_list[i % len(params_list)]
                t0 = time.perf_counter()
                answer = client.get(path, params=params, headers=headers)
                samples.append((time.perf_counter() - t0) * 1000)
                assert answer.status_code == 200, (name, answer.status_code)
            recorder.statements.clear()
            recorder.on = True
            for params in params_list:
                client.get(path, params=params, headers=headers)
            recorder.on = False
            stat, limit = TARGETS[name]
            value = _pct(samples, 50 if stat == "p50" else 95)
            results[name] = {
                "path": path,
                "runs": runs,
                "p50_ms": _pct(samples, 50),
                "p95_ms": _pct(samples, 95),
                "max_ms": round(max(samples), 1),
                "target": f"{stat} < {limit} ms",
                "met": value < limit,
                "statements": _explain(dsn, recorder.statements),
            }
            print(
                f"{name}: p50 {results[name]['p50_ms']} ms, p95 {results[name]['p95_ms']} ms "
                f"(target {stat} < {limit} ms: {'met' if value < limit else 'NOT met'})",
                file=sys.stderr,
            )
    engine.dispose()
    return results


def facts_of(dsn: str) -> dict[str, Any]:
    """What load() returned, read back from a database it filled (for --reuse)."""
    import psycopg

    with psycopg.connect(dsn) as conn:

        def one(sql: str) -> Any:
            return conn.execute(sql).fetchone()[0]  # type: ignore[index]

        return {
            "seconds": 0.0,
            "customers": one("SELECT count(*) FROM customers"),
            "cases": one("SELECT count(*) FROM cases"),
            "active_cases": one("SELECT count(*) FROM cases WHERE status IN ('open', 'waiting_on_customer')"),
            "orders": one("SELECT count(*) FROM orders"),
            "events": one("SELECT count(*) FROM case_events"),
            "commitments": one("SELECT count(*) FROM commitments"),
            "departments": [r[0] for r in conn.execute("SELECT id FROM departments ORDER BY id")],
            "agent": one("SELECT id FROM staff WHERE role = 'agent' ORDER BY id LIMIT 1"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--plans", action="store_true", help="print the full EXPLAIN plans to stderr")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        help="measure database NAME kept by an earlier --keep run (migrated to head, not reloaded; kept)",
    )
    parser.add_argument(
        "--proposed-indexes", action="store_true", help="then create PROPOSED_INDEXES and measure again"
    )
    args = parser.parse_args()

    if args.reuse:
        name, url = args.reuse, pg_url(args.reuse)
        args.keep = True
    else:
        name, url = pg_create()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        env = {**os.environ, "OWNWELL_DATABASE_URL": url, "OWNWELL_SECRET_KEY": "b" * 48}
        with tempfile.TemporaryDirectory() as cwd:
            run_cli(["db", "upgrade"], env=env, cwd=Path(cwd))
        facts = facts_of(dsn) if args.reuse else load(dsn, customers=args.customers, cases=args.cases)
        print(
            f"loaded in {facts['seconds']} s: {facts['cases']:,} cases ({facts['active_cases']:,} open), "
            f"{facts['customers']:,} customers",
            file=sys.stderr,
        )
        results = measure(url, dsn, facts, runs=args.runs)
        proposed: dict[str, Any] | None = None
        if args.proposed_indexes:
            seconds = create_proposed_indexes(dsn)
            print(f"created the proposed indexes in {seconds} s; measuring again", file=sys.stderr)
            proposed = {
                "create_seconds": seconds,
                "indexes": PROPOSED_INDEXES,
                "results": measure(url, dsn, facts, runs=args.runs),
            }
        runs_done = [("baseline", results)] + (
            [("proposed indexes", proposed["results"])] if proposed else []
        )
        for label, measured in runs_done:
            for target, result in measured.items():
                for plan in result["statements"]:
                    if args.plans:
                        print(
                            f"\n=== {label}, {target}: {plan['sql'][:160]}\n{plan['plan']}", file=sys.stderr
                        )
                    plan["plan"] = plan["plan"].splitlines()
        out = {
            "database": "postgresql",
            "data": {k: v for k, v in facts.items() if k not in ("departments",)},
            "results": results,
            "with_proposed_indexes": proposed,
        }
        text = json.dumps(out, indent=2)
        print(text)
        if args.json_out:
            args.json_out.write_text(text)
    finally:
        if args.keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            pg_drop(name)


if __name__ == "__main__":
    main()
