"""Alembic environment: the same migrations for SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

from alembic import context

from ownwell.config import get_settings
from ownwell.db import make_engine
from ownwell.migrations.unmodelled import include_object
from ownwell.models import metadata

config = context.config
url = config.attributes.get("database_url") or get_settings().database_url
connection = config.attributes.get("connection")


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
