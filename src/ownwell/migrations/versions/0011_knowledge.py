"""knowledge: questions to experts and knowledge articles

Revision ID: 0011
Revises: 0010
Hand-reviewed. knowledge_tips.recurring_issue_id has no foreign key on purpose: recurring
issues belong to the insights domain, and a tip may be written before or without it.
questions.article_id and knowledge_articles.question_id point at each other, so neither is a
foreign key (no cycle to break on insert or delete).

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JsonDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "questions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("department_id", sa.String(length=40), nullable=False),
        sa.Column("asked_by_id", sa.String(length=40), nullable=True),
        sa.Column("expert_id", sa.String(length=40), nullable=False),
        sa.Column("commitment_id", sa.String(length=40), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("article_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asked_by_id"], ["staff.id"], name=op.f("fk_questions_asked_by_id_staff"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_questions_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["commitments.id"],
            name=op.f("fk_questions_commitment_id_commitments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_questions_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["staff.id"], name=op.f("fk_questions_expert_id_staff"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questions")),
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questions_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_questions_expert_status", ["expert_id", "status"], unique=False)

    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", JsonDoc, nullable=False),
        sa.Column("source_case_id", sa.String(length=40), nullable=True),
        sa.Column("question_id", sa.String(length=40), nullable=True),
        sa.Column("author_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["staff.id"],
            name=op.f("fk_knowledge_articles_author_id_staff"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_case_id"],
            ["cases.id"],
            name=op.f("fk_knowledge_articles_source_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
    )

    op.create_table(
        "knowledge_tips",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("recurring_issue_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["staff.id"], name=op.f("fk_knowledge_tips_author_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_tips")),
    )
    with op.batch_alter_table("knowledge_tips", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_tips_recurring_issue_id"), ["recurring_issue_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("knowledge_tips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_tips_recurring_issue_id"))
    op.drop_table("knowledge_tips")
    op.drop_table("knowledge_articles")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index("ix_questions_expert_status")
        batch_op.drop_index(batch_op.f("ix_questions_case_id"))
    op.drop_table("questions")
