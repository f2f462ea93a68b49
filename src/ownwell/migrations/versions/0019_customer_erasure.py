"""customers: the record of an erasure (GDPR art. 17)

Revision ID: 0019
Revises: 0018
Hand-written: when a customer's personal data was erased, by whom and why. The reason is the
admin's words about the request ("asked by e-mail on 3 Dec"), never the customer's data.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("erased_by_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("erased_reason", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_customers_erased_by_id_staff"), "staff", ["erased_by_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_constraint(op.f("fk_customers_erased_by_id_staff"), type_="foreignkey")
        batch.drop_column("erased_reason")
        batch.drop_column("erased_by_id")
        batch.drop_column("erased_at")
