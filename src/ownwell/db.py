"""Engine, sessions and the declarative base. Only the boundaries (request, job, CLI) commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Writers take the lock at BEGIN, so two writers never deadlock upgrading a read lock.
        _serialise_writers(engine)
        _disable_pysqlite_autobegin(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip per request; a dead connection fails once and is replaced.
    return create_engine(url, pool_recycle=3600, **kwargs)


def _serialise_writers(engine: Engine) -> None:
    """Writers take SQLite's lock at BEGIN, so two writers never deadlock upgrading a read lock.
    Threads of this process queue on a Python lock first: SQLite's busy handler sleeps up to
    100 ms between tries, which turned a short queue into a one-second p99."""
    lock = threading.Lock()

    def begin(conn: Any) -> None:
        held = lock.acquire(timeout=30)  # past that, fall back to SQLite's own busy waiting
        conn.info["ownwell_writer_lock"] = held
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            end(conn)
            raise

    def end(conn: Any) -> None:
        if conn.info.pop("ownwell_writer_lock", False):
            lock.release()

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)


def _disable_pysqlite_autobegin(engine: Engine) -> None:
    # pysqlite would otherwise emit its own deferred BEGIN; let SQLAlchemy's event do it.
    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends cleanly, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
