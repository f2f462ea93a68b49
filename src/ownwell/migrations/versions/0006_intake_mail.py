"""intake: quarantined mail, attachments, inbound message ids

Revision ID: 0006
Revises: 0005
Hand-reviewed. inbound_mail.message_key is unique: that is what makes a re-delivered message a
no-op. The raw bytes of quarantined mail and the content of attachments live in the database
(LargeBinary: BYTEA / BLOB) so web processes keep no files.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "quarantined_mail",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("envelope_from", sa.String(length=320), nullable=True),
        sa.Column("envelope_to", JSON, nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_mail")),
    )
    with op.batch_alter_table("quarantined_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantined_mail_received_at"), ["received_at"], unique=False)

    op.create_table(
        "inbound_mail",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("message_key", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("quarantine_id", sa.String(length=40), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_inbound_mail_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["quarantine_id"],
            ["quarantined_mail.id"],
            name=op.f("fk_inbound_mail_quarantine_id_quarantined_mail"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mail")),
        sa.UniqueConstraint("message_key", name=op.f("uq_inbound_mail_message_key")),
    )
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_mail_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_inbound_mail_quarantine_id"), ["quarantine_id"], unique=False)

    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attachments_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_events.id"],
            name=op.f("fk_attachments_event_id_case_events"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_case_id"))
    op.drop_table("attachments")
    with op.batch_alter_table("inbound_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_mail_quarantine_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_mail_case_id"))
    op.drop_table("inbound_mail")
    with op.batch_alter_table("quarantined_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantined_mail_received_at"))
    op.drop_table("quarantined_mail")
