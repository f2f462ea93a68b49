"""Recurring issues as CSV: `GET /api/v1/insights/recurring.csv` (the `since` filter of
`GET /insights/recurring`) and `GET /exports/recurring-issues.csv` from the staff web app. One
writer for both: every live issue, newest first, read in keyset chunks, each in its own short
transaction, with the fields the JSON list gives (`insights.api.issues_out`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from ownwell.db import unit_of_work
from ownwell.deps import ApiContext, Ctx
from ownwell.insights import repository
from ownwell.insights.api import issues_out
from ownwell.kit.csv_export import csv_response, keyset_chunks, local_date
from ownwell.kit.pagination import MAX_LIMIT, encode_cursor
from ownwell.kit.text import Moment
from ownwell.web import pickers
from ownwell.web.session import StaffPage

router = APIRouter(prefix="/insights", tags=["insights"])
pages = APIRouter(include_in_schema=False)

COLUMNS = (
    "id",
    "label",
    "case_count",
    "first_seen",
    "last_seen",
    "department_id",
    "department_name",
    "cases_last_24h",
    "cases_previous_24h",
    "trend",
    "root_cause",
    "spike_alerted_at",
    "example_case_ids",
)


def issue_rows(
    factory: sessionmaker[Session], ctx: Ctx, *, since: datetime | None, chunk: int = MAX_LIMIT
) -> Iterator[Sequence[tuple[object, ...]]]:
    """Every live recurring issue as COLUMNS, newest first. `ctx` gives the actor and the instant
    the trends are computed at; each chunk is read in a transaction of its own."""

    def read(after: str | None) -> list[tuple[object, ...]]:
        with unit_of_work(factory) as session:
            cursor = encode_cursor(after) if after else None
            issues = list(repository.list_page(session, since=since, limit=chunk, cursor=cursor)[:chunk])
            here = Ctx(session=session, actor=ctx.actor, now=ctx.now, settings=ctx.settings)
            items = issues_out(here, issues)
            names = pickers.department_names(session, [i.department_id for i in items if i.department_id])
            return [
                (
                    i.id,
                    i.label,
                    i.case_count,
                    i.first_seen,
                    i.last_seen,
                    i.department_id,
                    names.get(i.department_id or ""),
                    i.trend.last_24h,
                    i.trend.previous_24h,
                    i.trend.direction,
                    i.root_cause,
                    i.spike_alerted_at,
                    " ".join(i.example_case_ids),
                )
                for i in items
            ]

    return keyset_chunks(read, key=lambda row: str(row[0]), size=chunk)


@router.get(
    "/recurring.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "Every live recurring issue, one per row"}},
)
def export_recurring(ctx: ApiContext, request: Request, since: Moment | None = None) -> StreamingResponse:
    """Every live recurring issue that `GET /insights/recurring` lists for the same `since` (all
    pages, newest first) as a CSV download. Labels and root causes that a spreadsheet would run as
    a formula start with `'`."""
    return csv_response(
        name="recurring-issues",
        day=local_date(ctx.now, ctx.settings.timezone),
        header=COLUMNS,
        chunks=issue_rows(request.app.state.session_factory, ctx, since=since),
    )


@pages.get("/exports/recurring-issues.csv")
def export_recurring_page(ctx: StaffPage) -> StreamingResponse:
    """The recurring-issues page's list, every page of it."""
    api_ctx = Ctx(session=ctx.session, actor=ctx.actor, now=ctx.now, settings=ctx.settings)
    return csv_response(
        name="recurring-issues",
        day=local_date(ctx.now, ctx.settings.timezone),
        header=COLUMNS,
        chunks=issue_rows(ctx.request.app.state.session_factory, api_ctx, since=None),
    )
