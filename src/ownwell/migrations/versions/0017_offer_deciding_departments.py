"""offer deciding departments: the departments whose supervisors decide an offer, fixed when it is made

Revision ID: 0017
Revises: 0016
Issue #17: the deciding department was read from the case's attribution at decision time, so
re-attributing a case moved an offer to another department's supervisors. The offer now keeps
them, as ",dep_a,dep_b," (comma-wrapped so that a LIKE on ",dep_a," finds one exactly).
Existing offers get what the rule would have read today: the case's attribution, else its
owner's departments.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("deciding_department_ids", sa.Text(), nullable=False, server_default=""))
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT offers.id, cases.caused_by_department_id, cases.owner_id"
            " FROM offers JOIN cases ON cases.id = offers.case_id"
        )
    ).all()
    for offer_id, attributed, owner_id in rows:
        if attributed is not None:
            departments = [attributed]
        else:
            departments = list(
                bind.execute(
                    sa.text("SELECT department_id FROM staff_departments WHERE staff_id = :s ORDER BY 1"),
                    {"s": owner_id},
                ).scalars()
            )
        packed = "," + ",".join(departments) + "," if departments else ""
        bind.execute(
            sa.text("UPDATE offers SET deciding_department_ids = :d WHERE id = :i"),
            {"d": packed, "i": offer_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("deciding_department_ids")
