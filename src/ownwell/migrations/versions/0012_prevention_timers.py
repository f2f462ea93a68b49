"""prevention timers: when a prevention action's owner was reminded, and when it was escalated

Revision ID: 0012
Revises: 0011
Each timer is set once by the worker, so a sweep that runs again sends nothing twice.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("prevention_actions") as batch:
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prevention_actions") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("reminded_at")
