"""`ownwell backup` and `ownwell restore` as an operator runs them: a backup taken while intake
and replies go on restores into a fresh database with every row as it was; a damaged file, a
file from another kind of database and a non-empty target are refused before anything changes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url

from ownwell.db import make_engine
from ownwell.migrate import upgrade
from ownwell.models import metadata
from ownwell.worker import run_jobs
from tests.test_intake_attachments import with_files
from tests.test_intake_email import send

# Rows that are never updated once written (the timeline is append-only).
APPEND_ONLY = ("case_events", "attachments", "inbound_mail")
PDF = b"%PDF-1.4 the invoice\n" + bytes(range(256)) * 8


def ownwell(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OWNWELL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "ownwell", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the test database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'ownwell.db'}"
        return
    name = f"ownwell_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def rows_of(engine: Engine) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    """Every row of every table, by primary key."""
    found: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            keys = [column.name for column in table.primary_key.columns]
            found[table.name] = {
                tuple(row[k] for k in keys): dict(row) for row in conn.execute(select(table)).mappings()
            }
    return found


def keep_writing(
    client: TestClient, token: str, stop: threading.Event, done: list[float], errors: list[str]
) -> None:
    """Intake and a reply, again and again, as a busy desk does; the time of each success."""
    headers = {"Authorization": f"Bearer {token}"}
    n = 0
    while not stop.is_set():
        n += 1
        case = client.post(
            "/api/v1/cases",
            headers=headers,
            json={
                "customer": {
                    "name": f"Writer {n}",
                    "emails": [f"writer{threading.get_ident()}-{n}@example.com"],
                },
                "subject": "Where is my parcel?",
                "body": "It should have come on Monday.",
                "channel": "email",
                "kind": "complaint",
            },
        )
        if case.status_code != 201:
            errors.append(f"case: {case.status_code} {case.text}")
            continue
        reply = client.post(
            f"/api/v1/cases/{case.json()['id']}/messages",
            headers=headers,
            json={"body": "It is on its way; I will write again tomorrow.", "visibility": "customer"},
        )
        if reply.status_code != 201:
            errors.append(f"reply: {reply.status_code} {reply.text}")
        done.append(time.monotonic())


def test_a_backup_taken_while_cases_and_replies_go_on_restores_every_row(  # type: ignore[no-untyped-def]
    db, migrated, app, admin, settings, session_factory, clock, tmp_path, fresh_database
):
    from ownwell.intake.listener import start_listener
    from tests.mailsink import free_port

    mail = start_listener(
        settings.model_copy(update={"mail_from": "care@acme.test"}), session_factory, clock, port=free_port()
    )
    try:
        code, _ = send(
            mail, with_files("The invoice is wrong.", [(PDF, "application", "pdf", "invoice.pdf")])
        )
    finally:
        mail.stop()
    assert code == 250
    token = admin.headers["Authorization"].removeprefix("Bearer ")
    before = rows_of(db)
    assert before["attachments"], "the seed has a file on a case"

    stop, done, errors = threading.Event(), [], []
    clients = [TestClient(app) for _ in range(2)]
    writers = [threading.Thread(target=keep_writing, args=(c, token, stop, done, errors)) for c in clients]
    for writer in writers:
        writer.start()
    try:
        time.sleep(0.5)  # real time here: writers must be mid-stream when the backup starts
        started = time.monotonic()
        backup = ownwell(migrated, "backup", str(tmp_path / "desk.backup"))
        finished = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        for writer in writers:
            writer.join(30)
        for client in clients:
            client.close()

    assert backup.returncode == 0, backup.stderr
    assert errors == []
    assert any(started < at < finished for at in done), "intake went on while the backup ran"
    restore = ownwell(fresh_database, "restore", str(tmp_path / "desk.backup"))
    assert restore.returncode == 0, restore.stderr

    restored_engine = make_engine(fresh_database)
    try:
        restored, live = rows_of(restored_engine), rows_of(db)
    finally:
        restored_engine.dispose()
    restored["audit_log"] = {
        k: r for k, r in restored["audit_log"].items() if r["action"] != "database.restored"
    }
    for table, rows in restored.items():
        assert before[table].keys() <= rows.keys(), f"{table}: rows stored before the backup are missing"
        assert rows.keys() <= live[table].keys(), f"{table}: the restore has rows the desk never had"
    # The timeline and files are never changed once written: restored, they are equal to the byte.
    for table in APPEND_ONLY:
        assert restored[table] == {key: live[table][key] for key in restored[table]}
    assert sum(len(rows) for rows in restored.values()) > sum(len(rows) for rows in before.values())


def test_a_backup_of_a_quiet_desk_restores_equal_to_the_row(db, migrated, admin, tmp_path, fresh_database):  # type: ignore[no-untyped-def]
    for n in range(3):
        admin.post(
            "/cases",
            {
                "customer": {"name": f"Quiet {n}", "emails": [f"quiet{n}@example.com"]},
                "subject": "Refund",
                "body": "Please refund the lamp.",
                "channel": "email",
                "kind": "request",
            },
        )
    assert ownwell(migrated, "backup", str(tmp_path / "quiet.backup")).returncode == 0
    assert ownwell(fresh_database, "restore", str(tmp_path / "quiet.backup")).returncode == 0
    restored_engine = make_engine(fresh_database)
    try:
        restored, live = rows_of(restored_engine), rows_of(db)
    finally:
        restored_engine.dispose()
    # The restored database's audit log says it was restored; everything else is as it was.
    [entry] = [row for row in restored.pop("audit_log").values() if row not in live["audit_log"].values()]
    assert entry["action"] == "database.restored" and entry["after"]["file"].endswith("quiet.backup")
    live.pop("audit_log")
    assert restored == live
    assert oct((tmp_path / "quiet.backup").stat().st_mode & 0o777) == "0o600"


def test_damaged_foreign_and_misplaced_backups_are_refused_with_the_reason(  # type: ignore[no-untyped-def]
    db, migrated, admin, tmp_path, fresh_database
):
    file = tmp_path / "desk.backup"
    assert ownwell(migrated, "backup", str(file)).returncode == 0
    again = ownwell(migrated, "backup", str(file))
    assert again.returncode == 2 and "exists already" in again.stderr

    data = file.read_bytes()
    tampered, truncated = tmp_path / "tampered.backup", tmp_path / "truncated.backup"
    middle = len(data) // 2
    tampered.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    truncated.write_bytes(data[: len(data) * 2 // 3])
    for bad in (tampered, truncated):
        refused = ownwell(fresh_database, "restore", str(bad))
        assert refused.returncode == 2, refused.stdout
        assert "damaged or not an Ownwell backup" in refused.stderr

    into_live = ownwell(migrated, "restore", str(file))
    assert into_live.returncode == 2 and "not empty" in into_live.stderr

    other = (
        "postgresql://postgres@127.0.0.1/none"
        if db.dialect.name == "sqlite"
        else f"sqlite:///{tmp_path}/x.db"
    )
    wrong_kind = ownwell(other, "restore", str(file))
    assert wrong_kind.returncode == 2 and "backup and the target is" in wrong_kind.stderr

    engine = make_engine(fresh_database)
    try:
        with engine.connect() as conn:
            assert conn.dialect.has_table(conn, "cases") is False, "a refused restore wrote nothing"
    finally:
        engine.dispose()


def test_a_backup_from_an_older_schema_is_migrated_forward_on_restore(database_url, tmp_path, fresh_database):  # type: ignore[no-untyped-def]
    if make_url(database_url).get_backend_name() == "sqlite":
        old = f"sqlite:///{tmp_path / 'old.db'}"
        cleanup = None
    else:
        cleanup = fresh_database.replace("ownwell_restore_", "ownwell_old_")
        admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{make_url(cleanup).database}"'))
        old = cleanup
    try:
        upgrade(old, "0012")
        assert ownwell(old, "backup", str(tmp_path / "old.backup")).returncode == 0
        restored = ownwell(fresh_database, "restore", str(tmp_path / "old.backup"))
        assert restored.returncode == 0, restored.stderr
        assert "migrating from schema revision 0012" in restored.stdout
        engine = make_engine(fresh_database)
        try:
            with engine.connect() as conn:
                head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        finally:
            engine.dispose()
        assert head != "0012"
    finally:
        if cleanup is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(cleanup).database}"'))
            admin.dispose()


def test_the_worker_keeps_the_newest_scheduled_backups(db, settings, session_factory, clock, tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "backups"
    scheduled = settings.model_copy(
        update={"backup_dir": str(folder), "backup_keep": 2, "backup_every_hours": 24}
    )

    made = []
    for _ in range(4):
        made.append(run_jobs(session_factory, clock, scheduled)["backups.scheduled_backup"])
        clock.advance(timedelta(hours=6))
        made.append(run_jobs(session_factory, clock, scheduled)["backups.scheduled_backup"])
        clock.advance(timedelta(hours=19))

    assert made == [1, 0] * 4
    kept = sorted(p.name for p in folder.glob("*.backup"))
    assert len(kept) == 2
    assert kept[-1] == f"ownwell-{clock.now() - timedelta(hours=25):%Y%m%dT%H%M%SZ}.backup"
