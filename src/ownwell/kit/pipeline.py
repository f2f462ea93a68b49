"""New rows for several tables, and the statements that follow them, in one round trip to
PostgreSQL (psycopg's pipeline mode).

`db.insert_new` writes a transaction's new rows with one INSERT per table. Through SQLAlchemy
each INSERT waits for its answer before the next is sent, and the Python around each one costs
more than PostgreSQL's work on a few rows; the busiest write (a customer writing in, five
tables) paid that five times. Here the INSERTs go to the driver at once and are answered
together: one wait, and only the driver's own Python per statement.

The statement text and the conversion of each value (an aware datetime, a JSON document) are
SQLAlchemy's own, compiled once per table and column set, so the rows are stored exactly as
`connection.execute(table.insert(), rows)` would store them. A failure comes back as the
SQLAlchemy exception that call would have raised (an `IntegrityError` for a taken identifier),
after the whole transaction (or savepoint) has failed, as a failed statement leaves it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]
# A Core statement (an UPDATE with bind parameters, a SET LOCAL) and its parameter sets.
Statement = tuple[Executable, Rows]


def available(connection: Connection) -> bool:
    """psycopg with a libpq that has pipeline mode (14 or newer; psycopg[binary] brings its own)."""
    if connection.dialect.driver != "psycopg":
        return False
    import psycopg

    return psycopg.Pipeline.is_supported()


def insert_all(
    connection: Connection, inserts: Sequence[tuple[Table, Rows]], then: Sequence[Statement] = ()
) -> None:
    """INSERT each table's rows (all with the same columns), in this order, then run `then`'s
    statements, all in one round trip. Rows that leave a column to a Python-side default go
    through SQLAlchemy, which computes it."""
    dialect = connection.dialect
    # A statement given no parameter sets runs once, as connection.execute(statement, []) does.
    work = [(_insert_of(table), rows) for table, rows in inserts if rows] + [
        (statement, rows or [{}]) for statement, rows in then
    ]
    prepared = [_prepared(statement, tuple(rows[0]), dialect) for statement, rows in work]
    if any(statement is None for statement in prepared):
        for statement, rows in work:
            connection.execute(statement, rows)
        return
    statements = [statement for statement in prepared if statement is not None]
    if not statements:
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.pipeline(), driver.cursor() as cursor:
            for (sql, convert), (_statement, rows) in zip(statements, work, strict=True):
                log.debug("%s [%d rows, pipelined]", sql, len(rows))
                if len(rows) == 1:
                    cursor.execute(sql, convert(rows[0]))
                else:
                    cursor.executemany(sql, [convert(row) for row in rows])
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        sql = "; ".join(sql for sql, _ in statements)
        raise DBAPIError.instance(
            sql, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
        ) from exc


@functools.cache
def _insert_of(table: Table) -> Executable:
    return table.insert()  # one object per table, so that _prepared's cache finds it again


@functools.lru_cache(maxsize=256)
def _prepared(
    statement: Executable, columns: tuple[str, ...], dialect: Dialect
) -> tuple[str, Callable[[dict[str, Any]], dict[str, Any]]] | None:
    """The statement's text and a converter of parameter values, or None when the statement
    needs more than the given values (an inserted column's default computed in Python)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))  # type: ignore[attr-defined]
    if set(compiled.binds) != set(columns):
        return None
    processors = {
        key: process
        for key in columns
        if (process := compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        if not processors:
            return row
        return {key: (process(row[key]) if (process := processors.get(key)) else row[key]) for key in row}

    return str(compiled), convert
