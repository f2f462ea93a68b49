"""JSON routes of the feedback domain: the kudos customers gave each staff member (P13)."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.deps import ApiContext
from ownwell.feedback import repository
from ownwell.feedback.models import Kudos
from ownwell.feedback.schemas import KudosOut
from ownwell.kit.pagination import DEFAULT_LIMIT, Page, split_page
from ownwell.kit.text import PageCursor
from ownwell.staff import repository as staff_repository

router = APIRouter(tags=["staff"])


def kudos_out(kudos: Kudos) -> KudosOut:
    return KudosOut(
        id=kudos.id,
        staff_id=kudos.staff_id,
        case_id=kudos.case_id,
        customer_id=kudos.customer_id,
        text=kudos.text,
        source=kudos.source,
        created_at=kudos.created_at,
    )


@router.get("/staff/{staff_id}/kudos", response_model=Page[KudosOut])
def list_kudos(
    staff_id: str, ctx: ApiContext, limit: int = DEFAULT_LIMIT, cursor: PageCursor | None = None
) -> Page[KudosOut]:
    """Praise customers gave this person, newest first. Any colleague may read it: it is
    meant to be shown."""
    staff = staff_repository.get_staff(ctx.session, staff_id)
    rows = repository.kudos_for_staff(ctx.session, staff.id, limit=limit, cursor=cursor)
    items, next_cursor = split_page(rows, limit, lambda k: k.id)
    return Page[KudosOut](items=[kudos_out(k) for k in items], next_cursor=next_cursor)
