"""Every query of the feedback domain."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ownwell.feedback.models import Kudos
from ownwell.kit.pagination import paginate_desc


def kudos_for_staff(session: Session, staff_id: str, *, limit: int, cursor: str | None) -> Sequence[Kudos]:
    """Newest first, one page (`limit + 1` rows, so the caller knows whether more follow)."""
    stmt = select(Kudos).where(Kudos.staff_id == staff_id)
    return session.scalars(paginate_desc(stmt, Kudos.id, limit=limit, cursor=cursor)).all()


def has_kudos(session: Session, *, case_id: str, customer_id: str) -> bool:
    stmt = select(Kudos.id).where(Kudos.case_id == case_id, Kudos.customer_id == customer_id).limit(1)
    return session.scalars(stmt).first() is not None
