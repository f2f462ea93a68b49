"""recurring issues, spikes, prevention, knowledge

Revision ID: 0009
Revises: 0008
Hand-written: recurring issues, the per-case vectors they are built from, prevention actions.
cases.recurring_issue_id stays a plain indexed column: matching happens after the case is stored
(in the worker), and a foreign key would mean rebuilding the whole cases table on SQLite.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recurring_issues",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department_id", sa.String(length=40), nullable=True),
        sa.Column("vector_sum", sa.LargeBinary(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("root_cause_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("merged_into_id", sa.String(length=40), nullable=True),
        sa.Column("spike_alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["merged_into_id"], ["recurring_issues.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_recurring_issues_merged_last_seen",
        "recurring_issues",
        ["merged_into_id", "last_seen"],
        unique=False,
    )
    op.create_table(
        "case_vectors",
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("issue_id", sa.String(length=40), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("case_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["issue_id"], ["recurring_issues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index(
        "ix_case_vectors_issue_created", "case_vectors", ["issue_id", "case_created_at"], unique=False
    )
    op.create_table(
        "prevention_actions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("issue_id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["issue_id"], ["recurring_issues.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["staff.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["created_by_id"], ["staff.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_prevention_actions_issue_id", "prevention_actions", ["issue_id"], unique=False)
    op.create_index(
        "ix_prevention_actions_owner_status_due",
        "prevention_actions",
        ["owner_id", "status", "due_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_prevention_actions_owner_status_due", table_name="prevention_actions")
    op.drop_index("ix_prevention_actions_issue_id", table_name="prevention_actions")
    op.drop_table("prevention_actions")
    op.drop_index("ix_case_vectors_issue_created", table_name="case_vectors")
    op.drop_table("case_vectors")
    op.drop_index("ix_recurring_issues_merged_last_seen", table_name="recurring_issues")
    op.drop_table("recurring_issues")
