"""Outbox delivery rate of ONE real `ownwell worker` process to a local SMTP sink.

For each database (a fresh SQLite file in a temp dir, and/or a fresh PostgreSQL database
`ownwell_bench_<random>` that is dropped afterwards) this:

1. migrates it with `ownwell.migrate.upgrade(url)` and queues N e-mails (default 5,000, unique
   recipients) with `ownwell.notifications.outbox.enqueue` in ONE transaction;
2. starts a local SMTP sink in its own process (a minimal asyncio SMTP server written here that
   only records the Message-ID header of each message, so every message can be checked to have
   arrived exactly once; or Postfix's C `smtp-sink`, which keeps nothing, with --sink smtp-sink);
3. starts `python -m ownwell worker` as a user would, configured only through OWNWELL_* env
   variables, and times from the spawn until every outbox row is `sent` (the DB is polled every
   0.2 s; nothing is subtracted, so interpreter start-up and imports are included). The rate
   between the first and last `sent_at` is reported too (steady state, no start-up);
4. stops the worker with SIGTERM, checks the sink received each Message-ID exactly once;
5. measures a plain smtplib loop (one connection, N similar messages built with
   email.message.EmailMessage, the same headers the worker writes) against the same sink, and
   also against Postfix's smtp-sink when it is installed, so both sinks' raw rates are known;
6. prints JSON (and writes it with --json-out).

CPU seconds of the worker, the sink and (on PostgreSQL) the database backends are read from /proc.

With --profile FILE, `py-spy record --format raw` is attached to the worker for --profile-seconds
during the run; the summary (top functions by own and by inclusive samples) goes into the JSON.
Profiled runs are perturbed by the sampler: don't quote their rates.

Usage:  .venv/bin/python bench/delivery_rate.py [--db sqlite|postgresql|both] [--messages N]
            [--batch B] [--interval S] [--sink asyncio|smtp-sink] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from common import free_port, pg_create, pg_drop

BIN = Path(sys.executable).parent
PG_ADMIN_DSN = os.environ.get("OWNWELL_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
SMTP_SINK = shutil.which("smtp-sink") or (
    "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
)
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAIL_FROM = "care@acme.test"
TARGET = 500.0


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def cpu_s(pid: int) -> float:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def pg_backend_cpu(dbname: str) -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres:") and f" {dbname} " in cmd:
            total += cpu_s(int(entry))
    return total


# --------------------------------------------------------------------------------------------
# the asyncio sink: SMTP just enough for smtplib, records Message-IDs only

_MID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


class _SinkProtocol(asyncio.Protocol):
    def __init__(self, ids: list[bytes]) -> None:
        self.ids = ids
        self.buf = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport
        self.t.write(b"220 sink ESMTP\r\n")  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            if self.in_data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    break
                m = _MID.search(self.buf, 0, end + 2)
                self.ids.append(m.group(1) if m else b"")
                self.buf = self.buf[end + 5 :]
                self.in_data = False
                out.append(b"250 2.0.0 queued\r\n")
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                break
            line, self.buf = self.buf[:nl], self.buf[nl + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                out.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n")
            elif verb == b"DATA":
                self.in_data = True
                out.append(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                out.append(b"221 bye\r\n")
                self.t.write(b"".join(out))  # type: ignore[attr-defined]
                self.t.close()
                return
            else:  # HELO, MAIL, RCPT, RSET, NOOP
                out.append(b"250 ok\r\n")
        if out:
            self.t.write(b"".join(out))  # type: ignore[attr-defined]


def _sink_main(port: int, conn: Any) -> None:
    ids: list[bytes] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _SinkProtocol(ids), "127.0.0.1", port, backlog=1000)
        conn.send("ready")
        while True:
            # commands from the parent, checked without blocking the loop
            while conn.poll():
                cmd = conn.recv()
                if cmd == "ids":
                    conn.send([i.decode() for i in ids])
                elif cmd == "count":
                    conn.send(len(ids))
                elif cmd == "reset":
                    ids.clear()
                    conn.send("ok")
                elif cmd == "stop":
                    server.close()
                    conn.send("ok")
                    return
            await asyncio.sleep(0.05)

    asyncio.run(main())


class AsyncioSink:
    name = "asyncio (bench/delivery_rate.py, records Message-IDs)"

    def __init__(self) -> None:
        self.port = free_port()
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sink_main, args=(self.port, child), daemon=True)

    def start(self) -> AsyncioSink:
        self.proc.start()
        assert self.conn.recv() == "ready"
        return self

    @property
    def pid(self) -> int:
        return int(self.proc.pid or 0)

    def _ask(self, cmd: str) -> Any:
        self.conn.send(cmd)
        return self.conn.recv()

    def ids(self) -> list[str]:
        return self._ask("ids")

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._ask("stop")
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.terminate()


class PostfixSink:
    name = "postfix smtp-sink (C, keeps nothing)"

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PostfixSink:
        assert SMTP_SINK, "smtp-sink not installed (apt-get install postfix)"
        cmd = [SMTP_SINK]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]  # required when run as root
        cmd += [f"127.0.0.1:{self.port}", "1000"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_port(self.port)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def ids(self) -> list[str]:
        raise NotImplementedError("smtp-sink does not keep messages")

    def reset(self) -> None:
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)


# --------------------------------------------------------------------------------------------
# the baseline: a plain smtplib loop, one connection


def smtplib_loop(port: int, n: int, tag: str, prebuilt: bool = False) -> dict[str, Any]:
    """N messages over one connection. prebuilt=True sends bytes flattened before the clock
    starts (smtplib.sendmail): the protocol cost alone, i.e. what the sink can take."""
    date = format_datetime(datetime.now(UTC))
    if prebuilt:
        raw = [_email(i, tag, date).as_bytes() for i in range(n)]
        t0 = time.perf_counter()
        c0 = sum(os.times()[:2])
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=20)
        for i, body in enumerate(raw):
            smtp.sendmail(MAIL_FROM, [f"loop{i}@example.com"], body)
    else:
        t0 = time.perf_counter()
        c0 = sum(os.times()[:2])
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=20)
        for i in range(n):
            smtp.send_message(_email(i, tag, date))
    smtp.quit()
    elapsed = time.perf_counter() - t0
    cpu = sum(os.times()[:2]) - c0
    return {
        "messages": n,
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(n / elapsed, 1),
        "client_cpu_ms_per_msg": round(cpu * 1000 / n, 3),
    }


def _email(i: int, tag: str, date: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = MAIL_FROM
    email["To"] = f"loop{i}@example.com"
    email["Subject"] = f"Message {i}"
    email["Message-ID"] = f"<loop-{tag}-{i}@acme.test>"
    email["Date"] = date
    email["Auto-Submitted"] = "auto-generated"
    email["X-Ownwell-Kind"] = "load"
    email.set_content("Your order is on its way.")
    return email


# --------------------------------------------------------------------------------------------
# databases


def queue_messages(url: str, n: int, smtp_port: int) -> list[str]:
    from ownwell.clock import SystemClock
    from ownwell.config import Settings
    from ownwell.db import make_engine, make_session_factory, unit_of_work
    from ownwell.notifications.models import OutboxChannel
    from ownwell.notifications.outbox import enqueue

    settings = Settings(
        database_url=url, smtp_host="127.0.0.1", smtp_port=smtp_port, mail_from=MAIL_FROM, secret_key="bench"
    )
    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = SystemClock().now()
    with unit_of_work(factory) as session:
        ids = [
            enqueue(
                session,
                key=f"bench:{i}",
                channel=OutboxChannel.email,
                recipient=f"customer{i}@example.com",
                kind="load",
                subject=f"Message {i}",
                body="Your order is on its way.",
                now=now,
                settings=settings,
                fresh=True,
            ).id
            for i in range(n)
        ]
    engine.dispose()
    return ids


class Progress:
    """Counts outbox rows by status, through SQLAlchemy Core on the app's own engine."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import func, select

        from ownwell.db import make_engine
        from ownwell.notifications.models import OutboxMessage

        self.engine = make_engine(url)
        self.m = OutboxMessage
        self.func, self.select = func, select

    def sent(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    self.select(self.func.count()).select_from(self.m).where(self.m.status == "sent")
                ).scalar_one()
            )

    def summary(self) -> dict[str, Any]:
        m, f = self.m, self.func
        with self.engine.connect() as conn:
            statuses = dict(conn.execute(self.select(m.status, f.count()).group_by(m.status)).all())
            first, last = conn.execute(self.select(f.min(m.sent_at), f.max(m.sent_at))).one()
            attempts = dict(conn.execute(self.select(m.attempts, f.count()).group_by(m.attempts)).all())
            sent_at = [r[0] for r in conn.execute(self.select(m.sent_at).where(m.sent_at.is_not(None)))]
        return {
            "statuses": {str(k): v for k, v in statuses.items()},
            "attempts": {str(k): v for k, v in attempts.items()},
            "first_sent_at": first,
            "last_sent_at": last,
            "sent_at": sent_at,
        }

    def dispose(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------------------------
# profile summary (py-spy --format raw: "frame;frame;... count" per line, root first)


def summarise_profile(path: Path, top: int = 25) -> dict[str, Any]:
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        c = int(count)
        frames = [re.sub(r" \((.*?/)?(site-packages/|src/)?", " (", f) for f in stack.split(";")]
        # only the worker thread's stacks matter; the main thread just joins it
        if not any("run_forever" in f for f in frames):
            continue
        total += c
        own[frames[-1]] += c
        for f in set(frames):
            incl[f] += c

    def pct(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * v / total, 1)) for f, v in counter.most_common(top)]

    return {"samples_worker_thread": total, "own_pct": pct(own), "inclusive_pct": pct(incl)}


# --------------------------------------------------------------------------------------------
# one database


def bench_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"ownwell-bench-delivery-{db}-"))
    pg_name = None
    sink: AsyncioSink | PostfixSink = PostfixSink() if args.sink == "smtp-sink" else AsyncioSink()
    sink.start()
    worker = None
    progress = None
    try:
        if db == "sqlite":
            url = f"sqlite:///{tmp}/ownwell.db"
        else:
            pg_name, url = pg_create()
        from ownwell.migrate import upgrade

        upgrade(url)
        t = time.perf_counter()
        ids = queue_messages(url, args.messages, sink.port)
        enqueue_s = time.perf_counter() - t
        print(f"[bench] {db}: queued {len(ids)} in {enqueue_s:.1f} s", file=sys.stderr, flush=True)

        env = {k: v for k, v in os.environ.items() if not k.startswith("OWNWELL_")}
        env.update(
            {
                "OWNWELL_DATABASE_URL": url,
                "OWNWELL_SMTP_HOST": "127.0.0.1",
                "OWNWELL_SMTP_PORT": str(sink.port),
                "OWNWELL_MAIL_FROM": MAIL_FROM,
                "OWNWELL_SECRET_KEY": "bench",
            }
        )
        if args.batch is not None:
            env["OWNWELL_DELIVERY_BATCH"] = str(args.batch)
        if args.interval is not None:
            env["OWNWELL_WORKER_INTERVAL_S"] = str(args.interval)
        if args.lease is not None:
            env["OWNWELL_DELIVERY_LEASE_S"] = str(args.lease)
        from ownwell.config import Settings

        effective = Settings(
            _env_file=None, **{k[8:].lower(): v for k, v in env.items() if k.startswith("OWNWELL_")}
        )

        progress = Progress(url)
        pg_cpu0 = pg_backend_cpu(pg_name) if pg_name else 0.0
        sink_cpu0 = cpu_s(sink.pid)
        wall0 = time.time()
        t0 = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-m", "ownwell", "worker"],
            env=env,
            cwd=tmp,  # its ./ownwell-data and .env are the temp dir's, not the repo's
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "worker.log", "wb"),  # noqa: SIM115 (closed with the process)
        )
        profiler = None
        if args.profile:
            time.sleep(args.profile_delay)
            profiler = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--duration",
                    str(args.profile_seconds),
                    "--rate",
                    "100",
                    "--format",
                    "raw",
                    "-o",
                    str(args.profile),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        done_at = None
        sent = 0
        timeline = []
        while time.perf_counter() - t0 < args.timeout:
            sent = progress.sent()
            timeline.append((round(time.perf_counter() - t0, 2), sent))
            if sent >= len(ids):
                done_at = time.perf_counter() - t0
                break
            if worker.poll() is not None:
                break
            time.sleep(0.2)
        worker_cpu = cpu_s(worker.pid)
        sink_cpu = cpu_s(sink.pid) - sink_cpu0
        pg_cpu = (pg_backend_cpu(pg_name) - pg_cpu0) if pg_name else None
        if profiler is not None:
            profiler.wait(args.profile_seconds + 30)
        worker.send_signal(signal.SIGTERM)
        try:
            rc = worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            rc = "killed after 30 s"
        worker = None
        summary = progress.summary()

        # exactly once, by Message-ID
        if isinstance(sink, AsyncioSink):
            counts = collections.Counter(sink.ids())
            expected = {f"<{i}@acme.test>" for i in ids}
            duplicates = sum(v - 1 for k, v in counts.items() if k in expected and v > 1)
            missing = len(expected - set(counts))
            unexpected = sum(v for k, v in counts.items() if k not in expected)
        else:
            duplicates = missing = unexpected = None

        first, last = summary["first_sent_at"], summary["last_sent_at"]
        steady = None
        if first and last and last > first:
            steady = round((len(ids) - 1) / (last - first).total_seconds(), 1)
        # the middle 80 % of the sends: no start-up, no tail
        sent_at = sorted(summary.pop("sent_at"))
        mid = None
        if len(sent_at) >= 10:
            a, b = sent_at[len(sent_at) // 10], sent_at[len(sent_at) * 9 // 10]
            if b > a:
                mid = round((len(sent_at) * 8 // 10) / (b - a).total_seconds(), 1)
        first_sent_after_start = round(first.timestamp() - wall0, 2) if first else None

        # the baseline, same sink, same run
        sink.reset()
        loop = smtplib_loop(sink.port, len(ids), tag=db)
        loop_dupes = None
        if isinstance(sink, AsyncioSink):
            got = collections.Counter(sink.ids())
            loop_dupes = {"received": sum(got.values()), "distinct": len(got)}
        sink.reset()
        loop_raw = smtplib_loop(sink.port, len(ids), tag=db + "-raw", prebuilt=True)
        loop_postfix = None
        if SMTP_SINK and args.sink != "smtp-sink":
            ps = PostfixSink().start()
            try:
                loop_postfix = {
                    "built_per_message": smtplib_loop(ps.port, len(ids), tag=db + "-pf"),
                    "prebuilt_bytes": smtplib_loop(ps.port, len(ids), tag=db + "-pfraw", prebuilt=True),
                }
            finally:
                ps.stop()

        worker_rate = round(len(ids) / done_at, 1) if done_at else None
        return {
            "db": db,
            "messages": len(ids),
            "enqueue_s": round(enqueue_s, 2),
            "all_sent": done_at is not None,
            "sent_when_stopped": sent,
            "worker_seconds_spawn_to_all_sent": round(done_at, 2) if done_at else None,
            "worker_msgs_per_s": worker_rate,
            "worker_msgs_per_s_first_to_last_sent_at": steady,
            "worker_msgs_per_s_middle_80pct": mid,
            "first_sent_after_spawn_s": first_sent_after_start,
            "smtplib_loop_msgs_per_s": loop["msgs_per_s"],
            "ratio": round(worker_rate / loop["msgs_per_s"], 3) if worker_rate else None,
            "target_msgs_per_s": TARGET,
            "meets_target": bool(worker_rate and worker_rate >= TARGET),
            "duplicates": duplicates,
            "missing": missing,
            "unexpected": unexpected,
            "sink": sink.name,
            "smtplib_loop": {**loop, "sink": sink.name, "sink_check": loop_dupes},
            "smtplib_loop_prebuilt_bytes_same_sink": loop_raw,
            "smtplib_loop_postfix_smtp_sink": loop_postfix,
            "worker_settings": {
                "batch": effective.delivery_batch,
                "interval_s": effective.worker_interval_s,
                "lease_s": effective.delivery_lease_s,
                "max_batches_per_sweep": 20,
            },
            "cpu_ms_per_msg": {
                "worker_process": round(worker_cpu * 1000 / len(ids), 3),
                "sink": round(sink_cpu * 1000 / len(ids), 3),
                **({"postgres_backends": round(pg_cpu * 1000 / len(ids), 3)} if pg_cpu is not None else {}),
            },
            "outbox_after": {k: v for k, v in summary.items() if not k.endswith("sent_at")},
            "worker_exit": rc,
            "timeline_sent": timeline[:: max(1, len(timeline) // 20)],
        }
    finally:
        if worker is not None:
            worker.kill()
            worker.wait()
        if progress is not None:
            progress.dispose()
        sink.stop()
        if pg_name:
            pg_drop(pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--batch", type=int, default=None, help="OWNWELL_DELIVERY_BATCH (default: the app's)")
    p.add_argument(
        "--interval", type=float, default=None, help="OWNWELL_WORKER_INTERVAL_S (default: the app's)"
    )
    p.add_argument("--lease", type=float, default=None, help="OWNWELL_DELIVERY_LEASE_S (default: the app's)")
    p.add_argument("--sink", choices=["asyncio", "smtp-sink"], default="asyncio")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--profile", type=Path, default=None, help="py-spy raw output file (suffix -<db> added)")
    p.add_argument("--profile-seconds", type=int, default=10)
    p.add_argument("--profile-delay", type=float, default=2.0)
    p.add_argument("--json-out", type=Path, default=None)
    args = p.parse_args()

    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    base_profile = args.profile
    for db in dbs:
        if base_profile:
            args.profile = base_profile.with_name(f"{base_profile.stem}-{db}{base_profile.suffix}")
        r = bench_one(db, args)
        if args.profile and args.profile.exists():
            r["profile"] = {"file": str(args.profile), **summarise_profile(args.profile)}
            r["profile_note"] = "profiled run: rates perturbed by the sampler"
        results.append(r)
    out = {
        "bench": "delivery_rate",
        "machine": {
            "cores": os.cpu_count(),
            "arch": platform.machine(),
            "python": platform.python_version(),
            "load_avg_at_end": os.getloadavg(),
        },
        "command": " ".join([".venv/bin/python", "bench/delivery_rate.py", *sys.argv[1:]]),
        "results": results,
    }
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
