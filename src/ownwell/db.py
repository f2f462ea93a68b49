"""Engine, sessions and the declarative base. Only the boundaries (request, job, CLI) commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import (
    MANYTOONE,
    DeclarativeBase,
    Session,
    SessionTransaction,
    UOWTransaction,
    sessionmaker,
)

from ownwell.kit import pipeline
from ownwell.kit.private_files import private_dir, private_file

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
    # Deleted and overwritten content is zeroed on disk, so an erased customer's data is not
    # left in free pages or free space inside pages (customers/erasure.py).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or went away mid-transaction (a restart, a failover, a
    full connection pool, SQLite's lock wait running out): worth trying again, not a bug."""
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def make_engine(url: str, **kwargs: Any) -> Engine:
    # Errors name the statement but never its values: they can hold customers' personal data,
    # and a failed group insert would otherwise log every row of the batch.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            private_dir(Path(database).parent)
            private_file(Path(database))
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


class ShortCache:
    """Rows that every request reads and that almost never change (API tokens, cadence
    policies, departments), kept in this process for `ttl_s` seconds to save a round trip each.

    A flush in this process that touches one of the `WATCHED` tables empties the cache at once;
    a change made by another process (a second web worker, the CLI) shows within `ttl_s`.
    One cache per session factory, so each app (and each test) starts empty."""

    WATCHED = frozenset({"staff", "api_tokens", "cadence_policies", "departments"})

    def __init__(self, ttl_s: float = 2.0, *, timer: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.timer = timer  # a process-local stopwatch, not the business clock
        self._items: dict[object, tuple[float, Any]] = {}

    def get(self, key: object) -> Any | None:
        # Plain dict reads and writes are atomic under the GIL; a race only costs a reload.
        item = self._items.get(key)
        if item is None or item[0] <= self.timer():
            return None
        return item[1]

    def put(self, key: object, value: Any) -> None:
        self._items[key] = (self.timer() + self.ttl_s, value)

    def clear(self) -> None:
        self._items.clear()


def short_cache(session_or_factory: Session | sessionmaker[Session]) -> ShortCache:
    """The cache of a session factory; a session made elsewhere gets a throwaway one."""
    info = (
        session_or_factory.info
        if isinstance(session_or_factory, Session)
        else session_or_factory.kw.get("info", {})
    )
    cache = info.get("ownwell_cache")
    return cache if isinstance(cache, ShortCache) else ShortCache(ttl_s=0)


def _clear_when_watched_rows_change(session: Session, _flush: UOWTransaction) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(getattr(obj, "__tablename__", None) in ShortCache.WATCHED for obj in changed):
        short_cache(session).clear()
        # ...and again when the transaction ends: another request may have refilled it from the
        # old rows before the commit, or this one from its own changes before a rollback.
        session.info["ownwell_cache_stale"] = True


def _clear_when_transaction_ends(session: Session, transaction: SessionTransaction) -> None:
    # Committed or rolled back: either way, what this transaction read of its own changes
    # may have been cached and must not outlive it.
    if transaction.parent is None and session.info.pop("ownwell_cache_stale", False):
        short_cache(session).clear()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(
        bind=engine, expire_on_commit=False, autoflush=False, info={"ownwell_cache": ShortCache()}
    )
    event.listen(factory, "after_flush", _clear_when_watched_rows_change)
    event.listen(factory, "after_transaction_end", _clear_when_transaction_ends)
    return factory


def writers_serialised(session: Session) -> bool:
    """True on SQLite, where a writing transaction holds the database lock from its first
    statement (see _serialise_writers), so what it read cannot change under it."""
    return session.get_bind().dialect.name == "sqlite"


# session.info key: the transaction is shared by several requests (kit.group_commit).
GROUPED = "ownwell_grouped"


def grouped(session: Session) -> bool:
    """True while several requests share this transaction: `insert_new` leaves new rows pending
    for one INSERT per table at the end, and a failure anywhere redoes each request alone, so
    a service need not guard against races with a savepoint of its own."""
    return bool(session.info.get(GROUPED))


def before_shared_commit(session: Session, statements: Callable[[Session], list[pipeline.Statement]]) -> None:
    """Have `statements(session)` called once, after the last command of a shared block, and the
    Core statements it returns run just before the block ends, after its new rows (in the same
    round trip on PostgreSQL): for counters that many commands bump, taking a row's lock as
    late as possible, in an order every shared block follows."""
    writes = session.info.setdefault(_SHARED_WRITES, [])
    if statements not in writes:
        writes.append(statements)


def shared_scratch(session: Session) -> dict[str, Any]:
    """Where a domain keeps what it defers to the end of the shared block (forgotten with it)."""
    return session.info.setdefault(_SHARED_SCRATCH, {})  # type: ignore[no-any-return]


def shared_commands(session: Session) -> int:
    """How many commands the caller of `shared_writes` said the block would run (at least 1)."""
    return max(1, int(shared_scratch(session).get(_COMMANDS, 1)))


def commit_follows(session: Session) -> bool:
    """True while a shared block's deferred writes run and the caller commits right after, so
    a `SET LOCAL` made for them need not be undone."""
    return bool(shared_scratch(session).get(_COMMIT_FOLLOWS))


def lone_request(session: Session) -> bool:
    """True in a shared block of a single command that ends in the commit (kit.group_commit's
    batch of one). Such a request takes its locks as a request on its own does, in the same
    order (new customer rows, then the routing pick, which locks the member's row at once), so
    it neither waits at the end for rows others hold nor closes a cycle with them."""
    return grouped(session) and commit_follows(session) and shared_commands(session) == 1


def counts_at_end(session: Session) -> bool:
    """True where routing's counters are added up and written at the end of the shared block
    (a block of several commands, or order ingest's), taking no staff row's lock before then;
    a lone request writes them at once, as a request on its own does."""
    return grouped(session) and not lone_request(session)


@contextmanager
def shared_writes(session: Session, *, commands: int = 1, commit_follows: bool = False) -> Iterator[None]:
    """Several commands in one block, their new rows and counters written together at its end
    (see `grouped`). On an error nothing deferred is written or kept: the caller rolls back
    and redoes the commands one by one. `commands`, when known, lets a read made for the first
    command serve the later ones too (see staff.repository's routing); `commit_follows` says
    the transaction ends with the block."""
    if grouped(session):
        raise RuntimeError("shared_writes blocks do not nest")
    session.info[GROUPED] = True
    shared_scratch(session).update({_COMMANDS: commands, _COMMIT_FOLLOWS: commit_follows})
    try:
        yield
        del session.info[GROUPED]
        writes = session.info.get(_SHARED_WRITES, [])
        insert_pending(session, then=[statement for write in writes for statement in write(session)])
    finally:
        for key in (GROUPED, _SHARED_WRITES, _SHARED_SCRATCH, _NEW_ROWS):
            session.info.pop(key, None)


_SHARED_WRITES = "ownwell_shared_writes"
_NEW_ROWS = "ownwell_new_rows"
_SHARED_SCRATCH = "ownwell_shared_scratch"
_COMMANDS = "ownwell_commands"
_COMMIT_FOLLOWS = "ownwell_commit_follows"


def insert_new(session: Session) -> None:
    """Flush a session whose pending work is new rows only: one Core INSERT (executemany) per
    table, skipping the ORM unit of work, which costs more Python than the statements it sends.
    The objects become persistent in the session as if flushed. Anything the plain path cannot
    express safely (deletes, foreign keys left to a relationship, a missing required value,
    rows the request caches watch) falls back to the ordinary flush. Changed rows are flushed
    the ordinary way after the inserts. In a shared transaction it waits for the last request."""
    if not grouped(session):
        insert_pending(session)


def add_new_row(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """A new row that nothing reads back before the commit (a timeline event, an outbox
    message), queued without an ORM object, whose bookkeeping costs more than the row: in group
    commit's shared block (the transaction ends with it) it goes in with the block's other new
    rows, after the rows it refers to. False elsewhere (and inside a savepoint, whose rollback
    could not take the row back): then the caller adds an ORM object. No session or mapper
    event sees a plain row, so a caller whose rows something hooks on must not use this.

    Columns not given get what `_insert_row` gives them: their Python default, else NULL (for
    a JSON column, JSON null)."""
    if not (grouped(session) and commit_follows(session)) or session.in_nested_transaction():
        return False
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.key in values:
            row[column.key] = values[column.key]
        elif column.default is not None and column.default.is_scalar:
            row[column.key] = column.default.arg
        elif column.default is None and column.server_default is None and column.nullable:
            row[column.key] = None
        elif column.default is None and column.server_default is None:
            raise ValueError(f"a new {table.name} row needs {column.key}")
    if unknown := values.keys() - row.keys():
        raise ValueError(f"{table.name} has no column {sorted(unknown)[0]}")
    session.info.setdefault(_NEW_ROWS, []).append((table, row))
    return True


def insert_pending(session: Session, *, then: Sequence[pipeline.Statement] = ()) -> None:
    """`insert_new`'s writing, now, even in a shared block (see `lone_request`); then `then`'s
    statements. On PostgreSQL, when nothing else waits to be flushed, all of it is one round trip.
    Rows queued by `add_new_row` go with the others, each table after the tables it refers to."""
    rows = _insert_rows(session)
    plain: list[tuple[Table, dict[str, Any]]] = session.info.pop(_NEW_ROWS, [])
    if rows is None and plain:
        session.flush()  # the ORM writes what it must first: the queued rows may refer to it
        rows = []
    if not rows and not then and not plain:
        session.flush()
        return
    connection = session.connection()
    by_table: dict[tuple[Any, tuple[str, ...]], list[dict[str, Any]]] = {}
    if rows or plain:
        order = _table_order()
        tables = [(type(obj).__table__, row) for obj, row in rows or ()] + plain
        for table, row in sorted(tables, key=lambda item: order[item[0]]):
            by_table.setdefault((table, tuple(row)), []).append(row)
    inserts = [(table, table_rows) for (table, _columns), table_rows in by_table.items()]
    pipelined = pipeline.available(connection)  # PostgreSQL: every table's INSERT in one round trip
    # Changed rows are flushed between the inserts and `then`; with none, `then` goes along.
    together = pipelined and rows is not None and not session.identity_map.check_modified()
    if pipelined:
        pipeline.insert_all(connection, inserts, then=then if together else ())
    else:
        for table, table_rows in inserts:
            connection.execute(table.insert(), table_rows)
    if rows:
        # What the unit of work does after its own INSERTs: the objects become persistent,
        # and a rollback of this (nested) transaction expunges them again.
        session._register_persistent({inspect(obj) for obj, _row in rows})
    session.flush()
    if not together:
        for statement, params in then:
            connection.execute(statement, params)


_sorted_tables: dict[int, dict[Any, int]] = {}


def _table_order() -> dict[Any, int]:
    """Parents before children; recomputed only when a module adds tables."""
    key = len(Base.metadata.tables)
    if key not in _sorted_tables:
        _sorted_tables[key] = {table: i for i, table in enumerate(Base.metadata.sorted_tables)}
    return _sorted_tables[key]


def _insert_rows(session: Session) -> list[tuple[Any, dict[str, Any]]] | None:
    if session.deleted:
        return None
    rows = []
    for obj in session.new:
        row = _insert_row(obj)
        if row is None:
            return None
        rows.append((obj, row))
    return rows


def _insert_row(obj: Any) -> dict[str, Any] | None:
    mapper = inspect(obj).mapper
    table = mapper.local_table
    if mapper.inherits is not None or table.name in ShortCache.WATCHED:
        return None
    values = obj.__dict__
    row: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if prop.key in values:
            row[column.key] = values[prop.key]
        elif column.default is not None and column.default.is_scalar:
            setattr(obj, prop.key, column.default.arg)
            row[column.key] = column.default.arg
        elif column.default is not None or column.server_default is not None:
            continue  # the database fills it; the attribute is loaded on first use
        elif not column.nullable:
            return None
        else:
            setattr(obj, prop.key, None)
            row[column.key] = None
    for rel in mapper.relationships:
        if rel.key not in values:
            continue
        if rel.secondary is not None:
            return None  # association rows are the unit of work's job
        related = values[rel.key]
        targets = related if isinstance(related, list) else [] if related is None else [related]
        for target in targets:
            # The foreign key must already hold what the relationship says it should.
            parent, child = (target, obj) if rel.direction is MANYTOONE else (obj, target)
            for local, remote in rel.local_remote_pairs:
                parent_col, child_col = (remote, local) if rel.direction is MANYTOONE else (local, remote)
                key = getattr(parent, _attr_of(parent, parent_col), None)
                if key is None or getattr(child, _attr_of(child, child_col), None) != key:
                    return None
    return row


def _attr_of(obj: Any, column: Any) -> str:
    return str(inspect(obj).mapper.get_property_by_column(column).key)


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
