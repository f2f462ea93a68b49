"""Indexes the migrations create that the models do not describe, kept out of the model/schema
comparison (tests/test_migrations.py, autogenerate in env.py).

They are PostgreSQL-only indexes on expressions with an operator class (pg_trgm), which SQLAlchemy
models cannot declare in a form Alembic compares, and which may be missing altogether when the
database user may not create the extension (0013_search_indexes then skips them and search falls
back to sequential scans). Every other index belongs in the models.
"""

from __future__ import annotations

from typing import Any

# 0013_search_indexes: staff search (web.queries) matches lower(column) LIKE '%text%'.
SEARCH_INDEXES = frozenset(
    {
        "ix_case_events_text_trgm",
        "ix_cases_subject_trgm",
        "ix_customers_name_trgm",
        "ix_customer_identifiers_value_trgm",
        "ix_orders_external_id_lower",
    }
)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's include_object hook: skip the indexes above, compare everything else."""
    return not (type_ == "index" and name in SEARCH_INDEXES)
