"""CPU cost of one `POST /api/v1/cases`, measured in-process, one request at a time.

The throughput benchmark (cases_throughput.py) needs quiet CPUs; this one does not: it counts
the CPU time this process spends (time.process_time: every thread, so the threadpool is in) and,
on PostgreSQL, the CPU time of the database backends, per request, with no concurrency and no
HTTP server (the ASGI app is called directly; uvicorn's parsing is not in the figure). Other
people's load on the machine changes it much less than it changes requests per second.

The organisation is set up with the same CLI commands as the throughput benchmark.

    .venv/bin/python bench/cpu_per_request.py --db sqlite [--requests 2000] [--what-if NAME,...]
                                              [--secret-key K] [--cprofile FILE]

--what-if applies the runtime patches of bench/whatif/sitecustomize.py (experiments only).
--cprofile writes a cProfile of the measured requests and prints the top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cases_throughput as ct
from common import pg_create, pg_drop


async def call(app: Any, body: bytes, token: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/cases",
        "raw_path": b"/api/v1/cases",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", b"Bearer " + token),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--returning", type=float, default=0.3)
    p.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (they may share a transaction)"
    )
    p.add_argument("--what-if", default="")
    p.add_argument("--secret-key", default="")
    p.add_argument("--cprofile", type=Path)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix=f"ownwell-cpu-{args.db}-"))
    pg_name = None
    if args.db == "sqlite":
        url = f"sqlite:///{tmp}/ownwell.db"
    else:
        pg_name, url = pg_create()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWNWELL_")}
    env["OWNWELL_DATABASE_URL"] = url
    if args.secret_key:
        env["OWNWELL_SECRET_KEY"] = args.secret_key
    try:
        token, _ = ct.set_up_org(env, tmp)
        # the app reads its settings from the environment and ./ownwell-data, like `ownwell serve`
        for k in [k for k in os.environ if k.startswith("OWNWELL_")]:
            del os.environ[k]
        os.environ.update({k: v for k, v in env.items() if k.startswith("OWNWELL_")})
        os.chdir(tmp)
        if args.what_if:
            os.environ["OWNWELL_BENCH_WHATIF"] = args.what_if
            sys.path.insert(0, str(Path(__file__).resolve().parent / "whatif"))
            import sitecustomize  # noqa: F401  (applies the patches on import)
        result = asyncio.run(measure(args, token, pg_name))
        result |= {"database": args.db, "what_if": args.what_if.split(",") if args.what_if else []}
        result["secret_key_set"] = bool(args.secret_key)
        print(json.dumps(result, indent=2))
    finally:
        if pg_name:
            pg_drop(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


async def measure(args: argparse.Namespace, token: str, pg_name: str | None) -> dict[str, Any]:
    from ownwell.app import create_app
    from ownwell.config import get_settings

    app = create_app()
    engine = app.state.engine
    from sqlalchemy import select

    from ownwell.staff.models import Department

    with engine.connect() as conn:
        departments = list(conn.scalars(select(Department.id)))
    load = ct.Load(token=token, departments=departments, returning=args.returning, seed=11)
    tok = token.encode()
    assert get_settings().database_url.startswith(args.db[:6])

    async def one() -> None:
        body, new_email = load.payload()
        status, data = await call(app, body, tok)
        if status != 201:
            raise RuntimeError(f"{status}: {data[:300]!r}")
        if new_email:
            load.known.append(new_email)

    async def many(count: int) -> None:
        # `concurrency` requests at a time, as that many clients would send them
        for start in range(0, count, args.concurrency):
            await asyncio.gather(*(one() for _ in range(min(args.concurrency, count - start))))

    await many(args.warmup)
    from collections import Counter

    from sqlalchemy import event

    statements: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements[" ".join(statement.split()[:3])[:60]] += 1

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        statements["COMMIT"] += 1

    meter = ct.CpuMeter(-1, pg_database=pg_name)
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
    before = meter.sample()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    await many(args.requests)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    used = ct.CpuMeter.used(before, meter.sample())
    n = args.requests
    out: dict[str, Any] = {
        "requests": n,
        "concurrency": args.concurrency,
        "app_cpu_ms_per_request": round(cpu * 1000 / n, 3),
        "wall_ms_per_request": round(wall * 1000 / n, 3),
        "other_busy_cores": round(used["other"] / wall, 2),
        "db_round_trips_per_request": round(sum(statements.values()) / n, 2),
        "statements_per_request": {k: round(v / n, 2) for k, v in statements.most_common()},
    }
    if pg_name:
        out["postgres_cpu_ms_per_request"] = round(used["postgres"] * 1000 / n, 3)
    if profiler:
        import io
        import pstats

        profiler.dump_stats(str(args.cprofile))
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(args.top)
        print(buf.getvalue(), file=sys.stderr)
        out["note"] = "cProfile on: CPU figures inflated by the profiler"
    engine.dispose()
    return out


if __name__ == "__main__":
    main()
