"""The peer, measured the same way: django-helpdesk 2.6.1's REST ticket create under gunicorn.

Issue #2 states Ownwell's `POST /api/v1/cases` target as a multiple of what the closest
open-source peer reaches. This measures that peer on this machine, in the same run, so that the
figure can be given as a ratio that survives a slower or faster machine.

For each database (a fresh SQLite file in a temp dir, and/or a fresh PostgreSQL database created
and dropped like common.pg_create/pg_drop) this:

1. makes sure a venv *outside the repo* (default ~/.cache/ownwell-bench/helpdesk-venv) holds the
   pinned peer (PINS below, from PyPI); its `pip freeze` goes into the JSON;
2. generates a Django project there with `django-admin startproject` and appends what helpdesk
   2.6.1 needs (its apps, SITE_ID, teams mode off since pinax-teams is an optional extra,
   DRF), with DEBUG=False and Django's defaults otherwise (SQLite journal mode, CONN_MAX_AGE=0,
   middleware); mail goes to Django's dummy backend, so the notification to the submitter is
   rendered in the request as helpdesk does, but nothing is sent;
3. runs `manage.py migrate`, `createsuperuser` (staff), the seven agents of Ownwell's bench
   organisation as staff users and two queues (`manage.py shell -c`), and a DRF token
   (`manage.py drf_create_token`);
4. starts `gunicorn peerdesk.wsgi --bind 127.0.0.1:<port> --workers W` (W = 2 x cores + 1, the
   gunicorn docs' recommendation; sync workers by default, `--worker-class gthread` optional);
5. drives `POST /api/tickets/` with C concurrent clients through cases_throughput's own `drive`
   (same warm-up/window, same Stats, same /proc CPU accounting, same PgWaits). Each request is a
   new ticket from a new or (30 %) a returning submitter, with the complaint texts
   cases_throughput uses. gunicorn's sync workers answer `Connection: close`, so the client
   reconnects and the connect is timed in (that is how the peer serves). Only 201s whose body is
   an open ticket count;
6. with --with-ownwell, runs cases_throughput's `bench_one` (`ownwell serve` + the same load,
   without the raw-insert phases) on the same database kind right before or after the peer
   (alternating), and prints `ratio_ownwell_to_peer` = cases/s / tickets/s.

Auth: DRF TokenAuthentication by default (`Authorization: Token <key>`; one indexed SELECT of
the key joined to the user, no hashing), the closest thing helpdesk's API has to Ownwell's
bearer token (SHA-256 then one indexed SELECT). `--auth basic` uses HTTP Basic (DRF's default)
with PASSWORD_HASHERS set to salted MD5; Django's default PBKDF2 would spend ~0.3-1 s of CPU
per request on the hash, which measures the hasher, not the help desk.

Options that tune the peer beyond Django's defaults (both favour it; say so when quoting them):
`--conn-max-age 60` (persistent connections instead of one per request) and `--sqlite-wal`
(Ownwell's SQLite pragmas: WAL, synchronous=NORMAL, instead of a rollback journal with an fsync
per commit; helpdesk commits several times per ticket).

PostgreSQL CPU: with Django's default CONN_MAX_AGE=0 every request opens its own connection, so
backends live for one request. /proc sampling at the window's ends misses processes that came and
went, so the postmaster's reaped-children CPU (cutime + cstime) is added to "postgres".

Run it holding the bench lock (the VM is shared):
    flock /tmp/bench.lock .venv/bin/python bench/peer_helpdesk.py --db both --with-ownwell
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cases_throughput as ct
from cases_throughput import CpuMeter, Load, Server, Stats, drive, http_client
from common import PG_ADMIN_DSN, add_load_arguments, clean_up, free_port, machine, pg_create

PINS = [
    "django-helpdesk==2.6.1",
    "Django==5.2.19",  # 2.6.1 requires django>=5.2 and lists 5.2 (LTS) and 6.0
    "djangorestframework==3.18.3",
    "gunicorn==27.0.1",
    "psycopg[binary]==3.3.9",
]
DEFAULT_VENV = Path.home() / ".cache" / "ownwell-bench" / "helpdesk-venv"
PROJECT = "peerdesk"
ADMIN_USER, ADMIN_EMAIL, ADMIN_PASSWORD = "admin", "admin@bench.test", "bench-peer-Pw-7d1c"
QUEUES = [("Shipping", "shipping"), ("Billing", "billing")]
OPEN_STATUS = 1  # helpdesk.models.Ticket.OPEN_STATUS
SQLITE_WAL = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"  # Ownwell's pragmas (db.py)


# --------------------------------------------------------------------------------------------
# the peer's venv and project


def ensure_venv(venv: Path) -> list[str]:
    """The pinned peer in its own venv (created and installed from PyPI if needed); pip freeze."""
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"[peer] creating {venv} ...", file=sys.stderr, flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    freeze = _freeze(venv)
    have = {line.lower() for line in freeze}
    wanted = {re.sub(r"\[.*\]", "", pin).lower() for pin in PINS}
    if not wanted <= have:
        print(f"[peer] pip install {' '.join(PINS)} ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", *PINS],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip install failed:\n{done.stderr[-2000:]}")
        freeze = _freeze(venv)
    return freeze


def _freeze(venv: Path) -> list[str]:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def pg_settings(name: str) -> dict[str, str]:
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": str(info.get("user", "postgres")),
        "PASSWORD": str(info.get("password", "")),
        "HOST": str(info.get("host", "127.0.0.1")),
        "PORT": str(info.get("port", "5432")),
    }


def make_project(venv: Path, tmp: Path, database: dict[str, Any], args: argparse.Namespace) -> Path:
    """`django-admin startproject`, then the settings helpdesk 2.6.1 needs appended."""
    home = tmp / "project"
    home.mkdir()
    subprocess.run([str(venv / "bin" / "django-admin"), "startproject", PROJECT, str(home)], check=True)
    if args.conn_max_age is not None:
        database = {**database, "CONN_MAX_AGE": args.conn_max_age}
    if args.sqlite_wal and database["ENGINE"].endswith("sqlite3"):
        database = {**database, "OPTIONS": {"init_command": SQLITE_WAL}}
    auth = (
        ["rest_framework.authentication.TokenAuthentication"]
        if args.auth == "token"
        else ["rest_framework.authentication.BasicAuthentication"]
    )
    extra = f"""

# ---- appended by ownwell bench/peer_helpdesk.py ----
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS += [
    "django.contrib.sites",  # helpdesk: domain for links in e-mails
    "django.contrib.humanize",  # helpdesk: elapsed time formatting
    "rest_framework",  # helpdesk: the API
    "rest_framework.authtoken",  # DRF TokenAuthentication (--auth token)
    "helpdesk",
]
SITE_ID = 1
DATABASES = {{"default": {database!r}}}
HELPDESK_TEAMS_MODE_ENABLED = False  # pinax-teams is the optional "teams" extra
HELPDESK_API_ENABLED = True  # 2.6.1's name for it (the default); it reads no other API switch
LOGIN_URL = "helpdesk:login"
REST_FRAMEWORK = {{"DEFAULT_AUTHENTICATION_CLASSES": {auth!r}}}
{'PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]' if args.auth == "basic" else ""}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"  # rendered, not sent
DEFAULT_FROM_EMAIL = "helpdesk@bench.test"
MEDIA_ROOT = {str(tmp / "media")!r}
STATIC_ROOT = {str(tmp / "static")!r}
LOGGING = {{
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {{"console": {{"class": "logging.StreamHandler"}}}},
    "root": {{"handlers": ["console"], "level": "WARNING"}},
}}
"""
    settings = home / PROJECT / "settings.py"
    settings.write_text(settings.read_text() + extra)
    (home / PROJECT / "urls.py").write_text(
        "from django.contrib import admin\n"
        "from django.urls import include, path\n\n"
        "urlpatterns = [\n"
        '    path("admin/", admin.site.urls),\n'
        '    path("", include("helpdesk.urls")),  # the API at /api/tickets/\n'
        "]\n"
    )
    return home


def peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWNWELL_", "PYTHON", "VIRTUAL_ENV"))}
    env["DJANGO_SETTINGS_MODULE"] = f"{PROJECT}.settings"
    return env


def manage(venv: Path, home: Path, *argv: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "manage.py", *argv],
        cwd=home,
        env=env or peer_env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {argv[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


SETUP_QUEUES = """
import json
from django.contrib.auth import get_user_model
from helpdesk.models import Queue
for name, handle in AGENTS:
    first, _, last = name.partition(" ")
    get_user_model().objects.create_user(
        handle, f"{handle}@bench.test", None, first_name=first, last_name=last, is_staff=True
    )
ids = [Queue.objects.create(title=t, slug=s, email_address=f"{s}@bench.test").id for t, s in QUEUES]
print(json.dumps(ids))
"""
# the same seven agents as Ownwell's organisation (TicketForm lists the assignable users per request)
AGENTS = [*(a for people in ct.DEPARTMENTS.values() for a in people), *ct.FRONT_LINE]


def set_up_peer(venv: Path, home: Path) -> tuple[str, list[int], list[str]]:
    """Migrate, a staff superuser, two queues, a token: (auth token, queue ids, commands)."""
    manage(venv, home, "migrate", "--noinput")
    env = peer_env()
    env["DJANGO_SUPERUSER_PASSWORD"] = ADMIN_PASSWORD
    createsuperuser = ["createsuperuser", "--noinput", "--username", ADMIN_USER, "--email", ADMIN_EMAIL]
    manage(venv, home, *createsuperuser, env=env)
    code = f"QUEUES = {QUEUES!r}\nAGENTS = {AGENTS!r}\n" + SETUP_QUEUES
    queue_ids = json.loads(manage(venv, home, "shell", "-c", code).strip().splitlines()[-1])
    out = manage(venv, home, "drf_create_token", ADMIN_USER)
    token = re.search(r"token (\w+) for", out)
    if not token:
        raise RuntimeError(f"drf_create_token printed {out!r}")
    commands = [
        "manage.py migrate --noinput",
        "DJANGO_SUPERUSER_PASSWORD=... manage.py " + " ".join(createsuperuser),
        f"manage.py shell -c <{len(AGENTS)} staff users (no password), queues {[q[0] for q in QUEUES]}>",
        f"manage.py drf_create_token {ADMIN_USER}",
    ]
    return token.group(1), queue_ids, commands


# --------------------------------------------------------------------------------------------
# the server, the load, the client


class PeerServer(Server):
    """gunicorn serving the generated project; stop() is cases_throughput's Server.stop."""

    def __init__(self, *, venv: Path, home: Path, workers: int, worker_class: str, threads: int) -> None:
        self.port = free_port()
        self.workers = workers
        self.argv = [
            str(venv / "bin" / "gunicorn"),
            f"{PROJECT}.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
        ]
        if worker_class != "sync":
            self.argv += ["--worker-class", worker_class, "--threads", str(threads)]
        self.log = open(home.parent / "server.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv, env=peer_env(), cwd=home, stdout=self.log, stderr=subprocess.STDOUT
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90, *, auth: str = "") -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log.name}")
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(self.base + "/api/tickets/", headers={"authorization": auth}, timeout=5)
                if r.status_code == 200:
                    time.sleep(1.0)  # let the other workers finish booting too
                    return
                if r.status_code in (401, 403, 404, 500):
                    raise RuntimeError(f"GET /api/tickets/ answered {r.status_code}: {r.text[:300]}")
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /api/tickets/ in time")


class TicketLoad(Load):
    """Load's new/returning submitters and complaint texts, shaped as a helpdesk ticket."""

    def __init__(self, *, auth: str, queues: list[int], returning: float, seed: int) -> None:
        super().__init__(token="", departments=[str(q) for q in queues], returning=returning, seed=seed)
        self.auth = auth
        self.queues = queues

    def payload(self) -> tuple[bytes, str | None]:
        email, new_email = self.sender()
        text = self.complaint()
        body = {
            "queue": self.rng.choice(self.queues),
            "title": text,
            "description": text,
            "submitter_email": email,
            "priority": self.rng.choice([2, 3, 3, 4]),
        }
        return json.dumps(body).encode(), new_email


async def ticket_client(host: str, port: int, load: TicketLoad, stats: Stats) -> None:
    """cases_throughput's client for `POST /api/tickets/`: a new open ticket is a success."""
    await http_client(
        host,
        port,
        path="/api/tickets/",
        authorization=load.auth,
        load=load,
        stats=stats,
        created=lambda ticket: isinstance(ticket.get("id"), int) and ticket.get("status") == OPEN_STATUS,
    )


class PeerCpuMeter(CpuMeter):
    """CpuMeter, plus the CPU of PostgreSQL backends that ended inside the window (Django's default
    CONN_MAX_AGE=0 gives each request its own backend): the postmaster's cutime + cstime."""

    def sample(self) -> dict[str, Any]:
        out = super().sample()
        if self.pg_database:
            stats = ct._all_stats()
            for pid, st in stats.items():
                parent = stats.get(int(st[3]))
                if st[1] == "postgres" and (parent is None or parent[1] != "postgres"):
                    out["postgres"][-pid] = (int(st[15]) + int(st[16])) / ct.CLK_TCK
        return out


def rename(load: dict[str, Any]) -> dict[str, Any]:
    """drive() reports cases; the peer makes tickets."""
    return {k.replace("cases", "tickets").replace("_case", "_ticket"): v for k, v in load.items()}


# --------------------------------------------------------------------------------------------
# one database


def bench_peer(db: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"peer-helpdesk-{db}-"))
    pg_name = None
    if db == "sqlite":
        database: dict[str, Any] = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "helpdesk.db")}
    else:
        pg_name, _ = pg_create()
        database = pg_settings(pg_name)
    workers = args.workers or 2 * (os.cpu_count() or 1) + 1
    result: dict[str, Any] = {
        "database": db,
        "gunicorn_workers": workers,
        "worker_class": args.worker_class,
        **({"threads": args.threads} if args.worker_class != "sync" else {}),
    }
    server = None
    try:
        t0 = time.perf_counter()
        home = make_project(args.venv, tmp, database, args)
        token, queues, commands = set_up_peer(args.venv, home)
        result["setup_s"] = round(time.perf_counter() - t0, 1)
        if args.auth == "token":
            auth = f"Token {token}"
        else:
            auth = "Basic " + base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
        result["busy_cores_before_start"] = (
            ct.wait_quiet(args.wait_quiet) if args.wait_quiet else ct.background_load()
        )
        server = PeerServer(
            venv=args.venv, home=home, workers=workers, worker_class=args.worker_class, threads=args.threads
        )
        server.wait_ready(auth=auth)
        result["server_command"] = " ".join(["gunicorn", *server.argv[1:]])
        load = TicketLoad(auth=auth, queues=queues, returning=args.returning, seed=args.seed)
        meter = PeerCpuMeter(server.proc.pid, pg_database=pg_name)
        result["load"] = rename(
            asyncio.run(
                drive(
                    port=server.port,
                    load=load,
                    clients=args.clients,
                    warmup=args.warmup,
                    seconds=args.seconds,
                    kind="raw",
                    meter=meter,
                    pg_database=pg_name,
                    make_client=lambda stats: ticket_client("127.0.0.1", server.port, load, stats),
                )
            )
        )
        result["new_submitters"] = len(load.known)
        result["setup_commands"] = commands
    finally:
        clean_up(server, pg_name, tmp, keep=args.keep, result=result)
    return result


def bench_ownwell(db: str, args: argparse.Namespace) -> dict[str, Any]:
    """cases_throughput's own run of one database (its defaults; no raw-insert phases)."""
    argv = ["--db", db, "--seconds", str(args.seconds), "--warmup", str(args.warmup)]
    argv += ["--clients", str(args.clients), "--returning", str(args.returning), "--seed", str(args.seed)]
    argv += ["--no-raw", "--wait-quiet", str(args.wait_quiet)]
    ns = ct.build_parser().parse_args(argv)
    result = ct.bench_one(db, ns)
    result["cases_throughput_args"] = argv
    return result


def summary(peer: dict[str, Any], own: dict[str, Any] | None) -> dict[str, Any]:
    p = peer["load"]
    cpu = p["cpu_cores_used"]
    n = max(1, p["tickets"])
    out: dict[str, Any] = {
        "peer_tickets_per_s": p["tickets_per_s"],
        "peer_p50_ms": p["p50_ms"],
        "peer_p99_ms": p["p99_ms"],
        "peer_cpu_ms_per_ticket": {
            "server": p["server_cpu_ms_per_ticket"],
            "postgres": p["postgres_cpu_ms_per_ticket"],
            "client": p["client_cpu_ms_per_ticket"],
            "server+postgres": round((cpu["server"] + cpu["postgres"]) * p["window_s"] * 1000 / n, 3),
        },
        "peer_errors": p["errors"],
        "peer_other_busy_cores": cpu["other"],  # other people's work on the machine, in the window
    }
    if own is not None:
        o = own["load"]
        ocpu = o["cpu_cores_used"]
        out |= {
            "ownwell_cases_per_s": o["cases_per_s"],
            "ownwell_p50_ms": o["p50_ms"],
            "ownwell_p99_ms": o["p99_ms"],
            "ownwell_cpu_ms_per_case_server+postgres": round(
                (ocpu["server"] + ocpu["postgres"]) * o["window_s"] * 1000 / max(1, o["cases"]), 3
            ),
            "ownwell_errors": o["errors"],
            "ownwell_other_busy_cores": ocpu["other"],
            "ratio_ownwell_to_peer": round(o["cases_per_s"] / p["tickets_per_s"], 2)
            if p["tickets_per_s"]
            else None,
        }
    return out


# --------------------------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_arguments(p)
    p.add_argument("--workers", type=int, default=0, help="gunicorn --workers (default 2 x cores + 1)")
    p.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    p.add_argument("--threads", type=int, default=4, help="gunicorn --threads with --worker-class gthread")
    p.add_argument(
        "--auth",
        choices=["token", "basic"],
        default="token",
        help="token: DRF TokenAuthentication; basic: HTTP Basic with PASSWORD_HASHERS = salted MD5",
    )
    p.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        metavar="S",
        help="Django CONN_MAX_AGE (default: Django's, 0 = a new database connection per request)",
    )
    p.add_argument(
        "--sqlite-wal",
        action="store_true",
        help="SQLite: OPTIONS init_command journal_mode=WAL + synchronous=NORMAL, as Ownwell "
        "(default: Django's, i.e. SQLite's rollback journal with synchronous=FULL)",
    )
    p.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="the peer's venv (outside the repo)")
    p.add_argument("--with-ownwell", action="store_true", help="also run cases_throughput per database")
    p.add_argument(
        "--order",
        choices=["alternate", "peer-first", "ownwell-first"],
        default="alternate",
        help="with --with-ownwell: alternate = peer first on the 1st database, Ownwell first on the 2nd",
    )
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S", help="as in cases_throughput")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (project, server.log, SQLite)")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args()
    args.venv = args.venv.expanduser().resolve()
    if Path(__file__).resolve().parent.parent in [args.venv, *args.venv.parents]:
        sys.exit("--venv must be outside the repo: the peer is not a dependency of Ownwell")
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    freeze = ensure_venv(args.venv)
    django = next((x.split("==")[1] for x in freeze if x.lower().startswith("django==")), None)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    report: dict[str, Any] = {
        "benchmark": "django-helpdesk POST /api/tickets/ under gunicorn (the peer of POST /api/v1/cases)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "clients": args.clients,
            "warmup_s": args.warmup,
            "seconds": args.seconds,
            "returning_share": args.returning,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
        },
        "peer": {
            "venv": str(args.venv),
            "pins": PINS,
            "pip_freeze": freeze,
            "django": django,
            "server": f"gunicorn, {args.worker_class} workers, default {2 * (os.cpu_count() or 1) + 1}"
            " (2 x cores + 1)",
            "auth": "DRF TokenAuthentication (Authorization: Token <key>)"
            if args.auth == "token"
            else "HTTP Basic (DRF BasicAuthentication)",
            "password_hasher": "Django default (PBKDF2; not used per request: token auth)"
            if args.auth == "token"
            else "MD5PasswordHasher (salted MD5) so Basic auth does not measure PBKDF2",
            "conn_max_age": args.conn_max_age if args.conn_max_age is not None else "0 (Django default)",
            "sqlite": SQLITE_WAL
            if args.sqlite_wal
            else "Django default (rollback journal, synchronous=FULL)",
            "email_backend": "django.core.mail.backends.dummy (notification rendered, not sent)",
            "api_setting": "HELPDESK_API_ENABLED = True (2.6.1 reads this name; it is the default)",
        },
        "code": ct.code_version(),
        "results": {},
    }
    for i, db in enumerate(dbs):
        peer_first = args.order == "peer-first" or (args.order == "alternate" and i % 2 == 0)
        order = ["peer", "ownwell"] if args.with_ownwell else ["peer"]
        if args.with_ownwell and not peer_first:
            order.reverse()
        entry: dict[str, Any] = {"order": order}
        for who in order:
            print(f"[peer] {db}: {who} ...", file=sys.stderr, flush=True)
            entry[who] = bench_peer(db, args) if who == "peer" else bench_ownwell(db, args)
        entry["summary"] = summary(entry["peer"], entry.get("ownwell"))
        report["results"][db] = {"summary": entry.pop("summary"), **entry}
        print(f"[peer] {db}: {json.dumps(report['results'][db]['summary'])}", file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
