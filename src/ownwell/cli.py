"""The `ownwell` command line. Each command is one transaction (or one per job)."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from ownwell.clock import SystemClock
from ownwell.config import get_settings
from ownwell.db import make_engine, make_session_factory, unit_of_work

app = typer.Typer(
    help="Ownwell: customer care where every problem has one named owner.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
import_app = typer.Typer(help="Bulk import from CSV files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
insights_app = typer.Typer(help="Recurring issues.", no_args_is_help=True)
app.add_typer(insights_app, name="insights")

log = logging.getLogger("ownwell")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request at INFO: a line per webhook message, and the soak's logs grew by it.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _upgrade() -> None:
    from ownwell.migrate import upgrade

    upgrade(get_settings().database_url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration not applied yet."""
    _upgrade()
    typer.echo("database is at the newest schema")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Sign-in e-mail address.")],
    name: Annotated[str, typer.Option(help="Full name, as customers will see it.")],
    role: Annotated[str, typer.Option(help="agent, supervisor or admin.")],
    department: Annotated[
        list[str] | None, typer.Option(help="Department name; created if new. Repeatable.")
    ] = None,
    password: Annotated[str | None, typer.Option(help="Password for the web app (10+ characters).")] = None,
) -> None:
    """Add a staff member."""
    from pydantic import ValidationError

    from ownwell.errors import AppError
    from ownwell.staff.schemas import StaffIn
    from ownwell.staff.service import create_staff, ensure_department

    _upgrade()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    now = SystemClock().now()
    try:
        with unit_of_work(factory) as session:
            departments = [ensure_department(session, name=n, now=now, by=None) for n in department or []]
            data = StaffIn(
                name=name,
                email=email,
                role=role,
                department_ids=[d.id for d in departments],
                password=password,
            )
            staff = create_staff(session, data=data, now=now, by=None)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except AppError as exc:
        _fail(exc.message)
    typer.echo(f"created {staff.role} {staff.name} <{staff.email}> ({staff.id})")


@user_app.command("password")
def user_password(
    email: Annotated[str, typer.Option(help="The staff member's sign-in e-mail address.")],
    password: Annotated[
        str | None, typer.Option(help="The new password (10+ characters); asked for when left out.")
    ] = None,
    keep_tokens: Annotated[
        bool, typer.Option("--keep-tokens", help="Keep their API tokens (revoked by default).")
    ] = False,
) -> None:
    """Set a staff member's password, end their web sessions and revoke their API tokens."""
    from ownwell.errors import AppError
    from ownwell.staff.service import reset_password
    from ownwell.web.session import end_sessions_of

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    _upgrade()
    factory = make_session_factory(make_engine(get_settings().database_url))
    try:
        with unit_of_work(factory) as session:
            staff, revoked = reset_password(
                session, email=email, password=password, now=SystemClock().now(), keep_tokens=keep_tokens
            )
            ended = end_sessions_of(session, staff_id=staff.id)
    except AppError as exc:
        _fail(exc.message)
    tokens = "API tokens kept" if keep_tokens else f"{revoked} API token(s) revoked"
    typer.echo(f"password set for {staff.name} <{staff.email}>; {ended} web session(s) ended; {tokens}")


@user_app.command("deactivate")
def user_deactivate(
    email: Annotated[str, typer.Option(help="The staff member's sign-in e-mail address.")],
) -> None:
    """End a staff member's sessions and API tokens, route nothing to them again, and hand
    their open cases on (with their open promises) to colleagues the usual routing picks."""
    from ownwell.cases.handover import deactivate
    from ownwell.errors import AppError

    _upgrade()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    try:
        with unit_of_work(factory) as session:
            staff = _staff_by_email(session, email)
            done = deactivate(session, staff=staff, actor=None, now=SystemClock().now(), settings=settings)
    except AppError as exc:
        _fail(exc.message)
    typer.echo(
        f"deactivated {staff.name} <{staff.email}>: {done.sessions_ended} web session(s) ended, "
        f"{done.tokens_revoked} API token(s) revoked, {done.cases_handed_on} open case(s) handed on"
    )


def _staff_by_email(session, email: str):  # type: ignore[no-untyped-def]
    """The staff member with this address, or AppError naming it."""
    from ownwell.customers.rules import normalise_email
    from ownwell.errors import InvalidInput, NotFound
    from ownwell.staff.repository import staff_by_email

    try:
        address = normalise_email(email.strip())
    except ValueError as exc:
        raise InvalidInput(f"not an e-mail address: {email!r}", field="email") from exc
    staff = staff_by_email(session, address)
    if staff is None:
        raise NotFound(f"no staff member with e-mail {address}", field="email")
    return staff


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The staff member's e-mail address.")],
    scope: Annotated[
        str, typer.Option(help="staff (what their role allows) or integrator (orders, customer messages).")
    ] = "staff",
    expires_in_days: Annotated[
        int | None, typer.Option(min=1, max=3650, help="Expire after this many days (default: never).")
    ] = None,
) -> None:
    """Print a new API token for a staff member (one line, nothing else)."""
    from datetime import timedelta

    from ownwell.errors import AppError
    from ownwell.staff.models import TokenScope
    from ownwell.staff.service import issue_token

    if scope not in TokenScope.__members__:
        _fail(f"--scope must be one of: {', '.join(TokenScope)}")
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    now = SystemClock().now()
    expires_at = now + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        with unit_of_work(factory) as session:
            staff = _staff_by_email(session, email)
            _token, secret = issue_token(
                session, staff=staff, now=now, by=None, scope=TokenScope(scope), expires_at=expires_at
            )
    except AppError as exc:
        _fail(exc.message)
    sys.stdout.write(secret + "\n")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str | None, typer.Option("--id", help="The token's id (tok_…).")] = None,
    email: Annotated[str | None, typer.Option(help="Revoke every token of this staff member.")] = None,
) -> None:
    """Revoke one API token by its id, or every token of one staff member."""
    from ownwell.errors import AppError
    from ownwell.staff.repository import token_by_id
    from ownwell.staff.service import revoke_token, revoke_tokens_of

    if (token_id is None) == (email is None):
        _fail("give either --id TOKEN_ID or --email E")
    factory = make_session_factory(make_engine(get_settings().database_url))
    now = SystemClock().now()
    try:
        with unit_of_work(factory) as session:
            if token_id is not None:
                token = token_by_id(session, token_id.strip())
                if token is None:
                    _fail(f"no API token with id {token_id!r}")
                revoke_token(session, token=token, now=now, by=None)  # type: ignore[arg-type]
                revoked = 1
            else:
                revoked = revoke_tokens_of(
                    session, staff=_staff_by_email(session, email or ""), now=now, by=None
                )
    except AppError as exc:
        _fail(exc.message)
    typer.echo(f"{revoked} API token(s) revoked")


def _start_worker(stop: threading.Event) -> threading.Thread:
    from ownwell.worker import run_forever

    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    thread = threading.Thread(
        target=run_forever,
        kwargs={
            "factory": factory,
            "clock": SystemClock(),
            "settings": settings,
            "interval_s": settings.worker_interval_s,
            "stop": stop,
        },
        name="ownwell-worker",
        daemon=True,
    )
    thread.start()
    return thread


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Load a demo organisation (once).")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Do not run the embedded worker.")] = False,
    workers: Annotated[int, typer.Option(help="Web processes (PostgreSQL; SQLite works best with 1).")] = 1,
) -> None:
    """Migrate if needed, then run the web app and API (and the worker)."""
    import uvicorn

    _logging()
    settings = get_settings()
    settings.resolved_secret_key()
    _upgrade()
    if demo:
        from ownwell.demo import load_demo

        load_demo(settings, only_once=True)
    stop = threading.Event()
    if not no_worker:
        _start_worker(stop)
    listener = None
    if settings.intake_smtp_port:
        from ownwell.intake.listener import start_listener

        factory = make_session_factory(make_engine(settings.database_url))
        listener = start_listener(settings, factory, SystemClock(), host=host)
    log.info("Ownwell on http://%s:%d (API docs at /api/v1/docs)", host, port)
    try:
        uvicorn.run(
            "ownwell.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        stop.set()
        if listener is not None:
            listener.stop()


@app.command()
def worker() -> None:
    """Run the worker alone (any number of copies on PostgreSQL)."""
    import signal

    _logging()
    stop = threading.Event()
    # SIGTERM (systemd, docker stop) finishes the message in hand, then stops.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = _start_worker(stop)
    try:
        while thread.is_alive():
            thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        thread.join(30)


@import_app.command("orders")
def import_orders(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")],
    timezone: Annotated[
        str | None, typer.Option(help="Zone for times written without offset (else refused).")
    ] = None,
) -> None:
    """Import orders: external_id, customer_email, [customer_name], promised_by, department
    (created if new), [status], [delivered_at]. Reports each rejected row and why."""
    from ownwell.orders.importer import run_with_progress

    _upgrade()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    now = SystemClock().now()
    raise typer.Exit(code=run_with_progress(factory, file, now=now, settings=settings, zone=timezone))


@import_app.command("customers")
def import_customers(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; write nothing.")] = False,
) -> None:
    """Import customers: name, email, phone, external_system + external_id, channel, language,
    timezone (several e-mails or phones in one cell, separated by ';'). A row whose e-mail, phone
    or external id is known teaches that customer its new identifiers, so a second run changes
    nothing. Reports each rejected row with its column and reason."""
    from ownwell.customers.importer import run_with_progress

    _upgrade()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    now = SystemClock().now()
    raise typer.Exit(code=run_with_progress(factory, file, now=now, settings=settings, dry_run=dry_run))


@insights_app.command("rebuild")
def insights_rebuild() -> None:
    """Match every case again, all at once (after a big import, or to undo early drift). Issues
    that keep most of their cases keep their id, root cause and prevention actions."""
    from ownwell.insights.rebuild import run_with_progress

    _upgrade()
    settings = get_settings()
    factory = make_session_factory(make_engine(settings.database_url))
    done = run_with_progress(factory, now=SystemClock().now(), settings=settings)
    typer.echo(f"{done.cases} cases in {done.issues} recurring issues ({done.moved} moved)")


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The backup file to write (must not exist).")],
) -> None:
    """Back up the database while Ownwell runs: cases, customers, timelines, outbox, attachments."""
    from ownwell.backups import BackupError
    from ownwell.backups import backup as take_backup

    try:
        manifest = take_backup(get_settings().database_url, file, now=SystemClock().now(), say=typer.echo)
    except BackupError as exc:
        _fail(str(exc))
    typer.echo(f"backup written: {file} (schema revision {manifest.revision}, sha256 {manifest.sha256})")


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A backup file.")],
) -> None:
    """Restore a backup into the configured database, which must be empty; then migrate it."""
    from ownwell.backups import BackupError
    from ownwell.backups import restore as restore_backup

    try:
        manifest = restore_backup(get_settings().database_url, file, now=SystemClock().now(), say=typer.echo)
    except BackupError as exc:
        _fail(str(exc))
    typer.echo(f"restored the backup made at {manifest.created_at}")


@app.command()
def demo() -> None:
    """Load the demo organisation into the configured database."""
    from ownwell.demo import load_demo

    _logging()
    _upgrade()
    load_demo(get_settings(), only_once=False)


def main() -> None:
    from sqlalchemy.exc import OperationalError

    try:
        app()
    except OperationalError as exc:
        # An unreachable or locked database: one line naming it, not a 500-line traceback.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        typer.echo(f"error: cannot use the database: {reason}", err=True)
        sys.exit(2)
