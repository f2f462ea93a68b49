"""portal: kudos and the customer's fair solution

Revision ID: 0007
Revises: 0006

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The customer's fair solution is a timeline event (kind "fair_solution"): no table needed.
    op.create_table(
        "kudos",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_kudos_staff_id_staff"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_kudos_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_kudos_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kudos")),
    )
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kudos_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_kudos_staff_id_id", ["staff_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kudos", schema=None) as batch_op:
        batch_op.drop_index("ix_kudos_staff_id_id")
        batch_op.drop_index(batch_op.f("ix_kudos_case_id"))
    op.drop_table("kudos")
