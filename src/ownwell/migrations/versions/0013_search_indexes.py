"""search and department indexes

Revision ID: 0013
Revises: 0012
Hand-written (issue #5: staff pages at 1,000,000 cases, bench/staff_pages.py).

Department board and metrics: a partial index of active cases per department in due order (with
`proactive` included on PostgreSQL, so the board counts read the index alone), and cases/orders
per department by creation time for the department error rate. Declared in the models.

Search, PostgreSQL only: pg_trgm GIN indexes on lower(text) for the `LIKE '%word%'` matches of
web.queries, and a btree on lower(orders.external_id). Creating the extension needs rights the
database user may lack; then the trigram indexes are skipped and search still works, by
sequential scans. These are listed in ownwell.migrations.unmodelled (kept out of the model
comparison). SQLite keeps the plain LIKE path.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('open', 'waiting_on_customer')")
TRIGRAM = {
    "ix_case_events_text_trgm": ("case_events", "text"),
    "ix_cases_subject_trgm": ("cases", "subject"),
    "ix_customers_name_trgm": ("customers", "name"),
    "ix_customer_identifiers_value_trgm": ("customer_identifiers", "value"),
}


def _has_trigrams(bind: sa.engine.Connection) -> bool:
    """Create pg_trgm if this user may; a refusal must not abort the migration's transaction."""
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"
    if bind.execute(sa.text(installed)).scalar():
        return True
    available = "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    if not bind.execute(sa.text(available)).scalar():
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:  # typically insufficient_privilege
        return False
    return True


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_department_active_due",
            ["caused_by_department_id", "next_update_due"],
            unique=False,
            postgresql_include=["proactive"],
            postgresql_where=ACTIVE,
            sqlite_where=ACTIVE,
        )
        batch_op.create_index(
            "ix_cases_department_created", ["caused_by_department_id", "created_at"], unique=False
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_department_created", ["department_id", "created_at"], unique=False)

    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_orders_external_id_lower ON orders (lower(external_id))")
    if _has_trigrams(bind):
        for name, (table, column) in TRIGRAM.items():
            op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower({column}) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: other databases objects may use it, and it holds no data.
        for name in [*TRIGRAM, "ix_orders_external_id_lower"]:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_department_created")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_department_created")
        batch_op.drop_index("ix_cases_department_active_due")
