"""offers, authority and approvals

Revision ID: 0008
Revises: 0007
Hand-written: one table. Authority limits already live on staff (0001); an offer above the
proposer's limit waits in `pending_approval` with its approval due time, swept by the worker.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("proposed_by_id", sa.String(length=40), nullable=False),
        sa.Column("decided_by_id", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("approval_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approval_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_offers_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["proposed_by_id"],
            ["staff.id"],
            name=op.f("fk_offers_proposed_by_id_staff"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff.id"],
            name=op.f("fk_offers_decided_by_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offers")),
    )
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offers_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_offers_status_approval_due", ["status", "approval_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("offers", schema=None) as batch_op:
        batch_op.drop_index("ix_offers_status_approval_due")
        batch_op.drop_index(batch_op.f("ix_offers_case_id"))
    op.drop_table("offers")
