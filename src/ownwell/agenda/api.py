"""GET /agenda: the caller's day."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from ownwell.agenda.schemas import AgendaItem
from ownwell.agenda.service import agenda_for
from ownwell.deps import ApiContext
from ownwell.errors import InvalidInput
from ownwell.kit.pagination import Page, check_limit
from ownwell.kit.text import Moment

router = APIRouter(tags=["agenda"])


@router.get("/agenda", response_model=Page[AgendaItem])
def my_agenda(ctx: ApiContext, until: Moment | None = None, limit: int = 200) -> Page[AgendaItem]:
    """What the caller owes by `until` (default: the next 24 hours), overdue first."""
    check_limit(limit)
    horizon = until or ctx.now + timedelta(hours=24)
    if horizon < ctx.now - timedelta(days=366):
        raise InvalidInput("until is more than a year in the past", field="until")
    items = agenda_for(ctx.session, staff_id=ctx.actor.id, until=horizon, limit=limit)
    return Page[AgendaItem](items=items, next_cursor=None)
