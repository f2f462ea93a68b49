"""What-if experiments for bench/cases_throughput.py --what-if NAME[,NAME...].

Loaded only when the benchmark puts this directory on the server's PYTHONPATH and names the
patches in OWNWELL_BENCH_WHATIF. Each patch changes one thing at runtime so its effect can be
measured before anyone changes src/; none of this is meant to ship as is.

- sqlite_lock:   one process-wide lock around each request's unit of work on SQLite, so waiting
                 writers are woken at once instead of polling in SQLite's busy handler (which sleeps
                 1, 2, 5, 10 ... 100 ms between tries).
- no_preping:    pool_pre_ping=False (no `SELECT 1` round trip at every pool checkout).
- no_staff_counter: skip `UPDATE staff SET open_case_count = open_case_count + 1` (the hot row every
                 concurrent case of a department writes); measures what that row costs.
- token_cache:   cache token hash -> staff id for 60 s in the process and load the staff member with
                 session.get (identity map) instead of the JOIN query.
- inline_commit: run group commit's shared transaction on the event loop itself instead of in the
                 threadpool (no thread hop, no GIL hand-over; requests that arrive meanwhile wait
                 in the socket buffers and form the next batch).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

PATCHES = {p for p in os.environ.get("OWNWELL_BENCH_WHATIF", "").split(",") if p}


def _sqlite_lock() -> None:
    from contextlib import contextmanager

    import ownwell.deps as deps
    from ownwell.db import unit_of_work

    lock = threading.Lock()

    @contextmanager
    def locked_unit_of_work(factory: Any):  # type: ignore[no-untyped-def]
        if factory.kw["bind"].dialect.name != "sqlite":
            with unit_of_work(factory) as session:
                yield session
            return
        with lock, unit_of_work(factory) as session:
            yield session

    deps.unit_of_work = locked_unit_of_work


def _no_preping() -> None:
    import sqlalchemy

    import ownwell.db as db

    def create_engine(*args: Any, **kwargs: Any) -> Any:
        kwargs["pool_pre_ping"] = False
        return sqlalchemy.create_engine(*args, **kwargs)

    db.create_engine = create_engine


def _no_staff_counter() -> None:
    import ownwell.cases.service as service

    service.adjust_open_cases = lambda session, staff_id, delta: None


def _token_cache() -> None:
    import ownwell.deps as deps
    from ownwell.staff import repository
    from ownwell.staff.models import Staff

    cache: dict[str, tuple[float, str]] = {}
    original = repository.staff_for_token

    def staff_for_token(session: Any, token_hash: str) -> Any:
        hit = cache.get(token_hash)
        if hit and hit[0] > time.monotonic():
            staff = session.get(Staff, hit[1])
            if staff is not None:
                return staff
        staff = original(session, token_hash)
        if staff is not None:
            cache[token_hash] = (time.monotonic() + 60, staff.id)
        return staff

    deps.staff_repository.staff_for_token = staff_for_token  # type: ignore[attr-defined]


def _inline_commit() -> None:
    import ownwell.kit.group_commit as gc

    async def run_inline(func: Any, *args: Any) -> Any:
        return func(*args)

    gc.run_in_threadpool = run_inline


if PATCHES:
    known = {
        "sqlite_lock": _sqlite_lock,
        "no_preping": _no_preping,
        "no_staff_counter": _no_staff_counter,
        "token_cache": _token_cache,
        "inline_commit": _inline_commit,
    }
    for name in sorted(PATCHES):
        known[name]()
