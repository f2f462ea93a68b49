"""The audit page of the staff web app, for admins: the same rows as `GET /api/v1/audit`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ownwell.audit import policies, repository
from ownwell.kit.pagination import split_page
from ownwell.kit.text import PageCursor
from ownwell.web.session import StaffPage

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/settings/audit", response_class=HTMLResponse)
def audit_page(ctx: StaffPage, cursor: PageCursor | None = None) -> Response:
    policies.require_can_read(ctx.actor)
    rows = repository.page(ctx.session, limit=PAGE, cursor=cursor)
    entries, next_cursor = split_page(rows, PAGE, lambda e: e.id)
    return ctx.render("staff/audit.html", {"nav": "settings", "entries": entries, "next_cursor": next_cursor})
