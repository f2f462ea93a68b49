"""API token scopes and expiry, deactivated staff, no per-account sign-in lock

Revision ID: 0018
Revises: 0017
Hand-written (issue #17): `api_tokens` gets a scope (`staff` or `integrator`), an optional
expiry and the last four characters of the token (to tell tokens apart in a list); `staff`
gets `active` (false: deactivated, signs in nowhere, owns nothing new). The per-account
sign-in lock (`failed_logins`, `locked_until`) goes: anyone could lock anyone out with it;
sign-in now backs off per client address (staff.signin_throttle).

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=20), server_default="staff", nullable=False))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last4", sa.String(length=4), nullable=True))
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("active")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last4")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scope")
