"""cases: unverified_sender, for a case opened in the name of an address nobody proved to hold

Revision ID: 0015
Revises: 0014
The public help form and mail whose sender the receiving server did not vouch for (RFC 8601
Authentication-Results) open cases marked so for staff, until the customer answers from it.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("unverified_sender", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("unverified_sender")
