"""Backups of a live system, and restoring one into an empty database.

A backup is one tar file: `manifest.json` (format, database kind, schema revision, time, and
the SHA-256 of the payload) and the payload itself. On SQLite the payload is a copy made with
SQLite's online backup API: one read transaction, so writers go on (WAL) and the copy is one
consistent moment. On PostgreSQL it is `pg_dump --format=custom`, which reads one snapshot
and locks nothing that intake needs. Attachments live in the database, so they come along.

Restoring checks the file before it touches anything: it must be whole, its checksum must
match, it must come from the same kind of database, and the target must hold no tables. A
backup from an older schema is migrated forward after the restore; one from a newer Ownwell is
refused, since this code cannot know what its tables mean.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from ownwell.audit import service as audit
from ownwell.config import Settings
from ownwell.db import make_engine, make_session_factory, unit_of_work
from ownwell.migrate import alembic_config, upgrade

FORMAT = "ownwell-backup/1"
MANIFEST = "manifest.json"
PAYLOAD = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
Say = Callable[[str], None]
SCHEDULED_PREFIX, SCHEDULED_SUFFIX = "ownwell-", ".backup"
log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup could not be made or restored; the message says why, for the operator."""


@dataclass(frozen=True)
class Manifest:
    backend: str
    revision: str
    created_at: str
    sha256: str
    size: int

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, **self.__dict__}, indent=2).encode()


def backup(database_url: str, file: Path, *, now: datetime, say: Say = lambda _: None) -> Manifest:
    """Write a backup of the database at `database_url` to `file` (refused if it exists)."""
    if file.exists():
        raise BackupError(f"{file} exists already; choose a new file name")
    backend = _backend(database_url)
    with tempfile.TemporaryDirectory(prefix="ownwell-backup-") as work:
        payload = Path(work) / PAYLOAD[backend]
        say(f"copying the {backend} database")
        if backend == "sqlite":
            revision = _copy_sqlite(database_url, payload)
        else:
            revision = _revision_of(database_url)
            _run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(payload)],
                database_url,
            )
        manifest = Manifest(
            backend=backend,
            revision=revision,
            created_at=now.isoformat(),
            sha256=_sha256(payload),
            size=payload.stat().st_size,
        )
        say(f"writing {file} ({manifest.size:,} bytes of data, schema revision {revision})")
        partial = file.with_name(f".{file.name}.partial")
        # Customers' personal data: readable by the operator only, like the database itself.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out, tarfile.open(fileobj=out, mode="w") as archive:
            _add_bytes(archive, MANIFEST, manifest.to_json())
            archive.add(payload, arcname=payload.name)
        partial.replace(file)  # a backup cut short never carries the final name
    return manifest


def restore(database_url: str, file: Path, *, now: datetime, say: Say = lambda _: None) -> Manifest:
    """Restore `file` into the empty database at `database_url`, then migrate it forward; the
    restored database's audit log then says so."""
    backend = _backend(database_url)
    with tempfile.TemporaryDirectory(prefix="ownwell-restore-") as work:
        manifest, payload = _checked(file, Path(work))
        if manifest.backend != backend:
            raise BackupError(
                f"this is a {manifest.backend} backup and the target is {backend}; restore it into "
                f"a {manifest.backend} database"
            )
        script = ScriptDirectory.from_config(alembic_config(database_url))
        if manifest.revision not in {rev.revision for rev in script.walk_revisions()}:
            raise BackupError(
                f"this backup has schema revision {manifest.revision}, which this version of Ownwell "
                "does not know (a newer one made it): upgrade Ownwell first"
            )
        _require_empty(database_url)
        say(f"restoring {manifest.size:,} bytes of {backend} data made at {manifest.created_at}")
        if backend == "sqlite":
            _restore_sqlite(payload, database_url)
        else:
            _run(
                ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname"],
                database_url,
                str(payload),
            )
    if manifest.revision != script.get_current_head():
        say(f"migrating from schema revision {manifest.revision} to {script.get_current_head()}")
        upgrade(database_url)
    _audit_restore(database_url, file, manifest, now=now)
    return manifest


def _audit_restore(database_url: str, file: Path, manifest: Manifest, *, now: datetime) -> None:
    engine = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            audit.record(
                session,
                action="database.restored",
                target_type="database",
                target_id=None,
                actor_id=None,
                actor_label=audit.COMMAND_LINE,
                now=now,
                after={
                    "file": str(file),
                    "made_at": manifest.created_at,
                    "revision": manifest.revision,
                    "sha256": manifest.sha256,
                },
            )
    finally:
        engine.dispose()


def _backend(database_url: str) -> str:
    backend = make_url(database_url).get_backend_name()
    if backend not in PAYLOAD:
        raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")
    return backend


def _revision_of(database_url: str) -> str:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def _copy_sqlite(database_url: str, payload: Path) -> str:
    source = sqlite3.connect(make_url(database_url).database or "", timeout=30)
    copy = sqlite3.connect(payload)
    try:
        source.backup(copy)  # all pages in one step: one read transaction, writers go on
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        (revision,) = copy.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        copy.close()
        source.close()
    return str(revision)


def _restore_sqlite(payload: Path, database_url: str) -> None:
    target = Path(make_url(database_url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(payload)
    into = sqlite3.connect(target)
    try:
        source.backup(into)
        into.execute("PRAGMA journal_mode=WAL")
    finally:
        into.close()
        source.close()
    os.chmod(target, 0o600)


def _require_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(
            f"the target database is not empty ({len(tables)} tables, e.g. {sorted(tables)[0]}); "
            "restore only into a new, empty database"
        )


def _checked(file: Path, work: Path) -> tuple[Manifest, Path]:
    """The manifest and the extracted payload, after checking the file is whole and unaltered."""
    damaged = f"{file} is damaged or not an Ownwell backup"
    try:
        with tarfile.open(file, mode="r") as archive:
            names = archive.getnames()
            member = archive.extractfile(MANIFEST) if MANIFEST in names else None
            if member is None:
                raise BackupError(f"{damaged}: it has no {MANIFEST}")
            fields = json.loads(member.read())
            if fields.pop("format", None) != FORMAT:
                raise BackupError(f"{damaged}: unknown format")
            manifest = Manifest(**fields)
            name = PAYLOAD.get(manifest.backend, "")
            if name not in names:
                raise BackupError(f"{damaged}: the database copy is missing")
            archive.extract(name, path=work, filter="data")
    except (tarfile.TarError, OSError, EOFError, ValueError, TypeError) as exc:
        raise BackupError(f"{damaged}: {exc}") from exc
    payload = work / name
    if payload.stat().st_size != manifest.size or _sha256(payload) != manifest.sha256:
        raise BackupError(f"{damaged}: the database copy does not match its checksum")
    return manifest, payload


def _run(command: list[str], database_url: str, *args: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(
            f"{command[0]} is not on the PATH; install PostgreSQL's client programs "
            "(Debian: apt-get install postgresql-client) in the server's major version"
        )
    url = make_url(database_url).set(drivername="postgresql")
    done = subprocess.run(
        [*command, url.render_as_string(hide_password=False), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


def scheduled_backup(_session: object, *, now: datetime, settings: Settings) -> int:
    """The worker's job: a backup into `OWNWELL_BACKUP_DIR` when the newest there is older than
    `OWNWELL_BACKUP_EVERY_HOURS`, keeping the newest `OWNWELL_BACKUP_KEEP`. Several workers on
    one machine take turns through a lock file; workers on other machines back up into their
    own folders."""
    if settings.backup_dir is None:
        return 0
    folder = Path(settings.backup_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another worker is writing one now
        kept = sorted(folder.glob(f"{SCHEDULED_PREFIX}*{SCHEDULED_SUFFIX}"))
        if kept and now - _taken_at(kept[-1]) < timedelta(hours=settings.backup_every_hours):
            return 0
        file = folder / f"{SCHEDULED_PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}{SCHEDULED_SUFFIX}"
        manifest = backup(settings.database_url, file, now=now)
        log.info(
            "scheduled backup %s written (%s bytes, revision %s)", file, manifest.size, manifest.revision
        )
        for old in [*kept, file][: -settings.backup_keep]:
            old.unlink(missing_ok=True)
            log.info("old backup %s removed (OWNWELL_BACKUP_KEEP=%d)", old, settings.backup_keep)
    return 1


def _taken_at(file: Path) -> datetime:
    stamp = file.name.removeprefix(SCHEDULED_PREFIX).removesuffix(SCHEDULED_SUFFIX)
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
