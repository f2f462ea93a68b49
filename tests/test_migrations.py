"""Migrations go up, down and up again, and leave exactly the schema the models describe."""

from __future__ import annotations

import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from ownwell.db import make_engine
from ownwell.migrate import downgrade, upgrade
from ownwell.migrations.unmodelled import include_object
from ownwell.models import metadata


def _fresh_url(tmp_path):  # type: ignore[no-untyped-def]
    configured = os.environ.get("OWNWELL_TEST_DATABASE_URL", "sqlite")
    if not configured.startswith("postgresql"):
        return f"sqlite:///{tmp_path}/migrations.db", None
    base = make_url(configured).set(drivername="postgresql+psycopg")
    name = f"ownwell_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), (admin, name)


def test_upgrade_downgrade_upgrade_matches_models(tmp_path):
    url, cleanup = _fresh_url(tmp_path)
    try:
        upgrade(url)
        downgrade(url, "base")
        engine = make_engine(url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_object": include_object}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
        engine.dispose()
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        if cleanup:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
