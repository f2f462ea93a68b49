"""Helpers every benchmark in bench/ shares: ports, the CLI as a user runs it, scratch databases."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
OWNWELL = str(BIN / "ownwell")
PG_ADMIN_DSN = os.environ.get("OWNWELL_BENCH_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(args: list[str], *, env: dict[str, str], cwd: Path) -> str:
    """`ownwell ARGS` as a user would type it; its stdout, or an error with its stderr."""
    done = subprocess.run([OWNWELL, *args], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ownwell {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def pg_create() -> tuple[str, str]:
    """A fresh PostgreSQL database: (name, SQLAlchemy URL)."""
    import psycopg

    name = f"ownwell_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, pg_url(name)


def pg_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the bench's server."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    host, port, user = info.get("host", "127.0.0.1"), info.get("port", "5432"), info.get("user", "postgres")
    password = f":{info['password']}" if info.get("password") else ""
    return f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"


def pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def machine() -> dict[str, object]:
    """What a report says about the machine it ran on."""
    return {
        "cpus": os.cpu_count(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def clean_up(server: Any, pg_name: str | None, tmp: Path, *, keep: bool, result: dict[str, Any]) -> None:
    """What a run leaves behind goes: its server, its scratch database, its temp dir (unless kept,
    in which case the report says where)."""
    if server is not None:
        server.stop()
    if pg_name:
        pg_drop(pg_name)
    if keep:
        result["kept_dir"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The load every `POST` benchmark drives: which databases, how long, how many clients."""
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window (after the warm-up)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (keep-alive where served)")
    parser.add_argument(
        "--returning", type=float, default=0.3, help="share of requests from a returning customer"
    )
