"""The case list as CSV, for the API (`GET /api/v1/cases.csv`, the filters of `GET /cases`) and
the staff web app (`GET /exports/cases.csv`, the filters of the case search page). One writer for
both: every matching case, read newest first in keyset chunks, each chunk in its own short
transaction (on SQLite a transaction holds the write lock; an export of a million cases must not
stop intake), written to the client as it is read."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from ownwell.cases import repository
from ownwell.cases.api import Filters
from ownwell.cases.models import ACTIVE_STATUSES
from ownwell.cases.repository import CaseFilter
from ownwell.db import unit_of_work
from ownwell.deps import ApiContext
from ownwell.kit.csv_export import CHUNK_ROWS, csv_response, keyset_chunks, local_date
from ownwell.kit.text import BoundedText
from ownwell.web import queries
from ownwell.web.session import StaffPage

router = APIRouter(tags=["cases"])
pages = APIRouter(include_in_schema=False)
IdQuery = BoundedText(40) | None  # type: ignore[valid-type]

COLUMNS = (
    "id",
    "created_at",
    "status",
    "kind",
    "channel",
    "subject",
    "customer_id",
    "customer_name",
    "owner_id",
    "owner_name",
    "caused_by_department_id",
    "caused_by_department_name",
    "order_id",
    "order_external_id",
    "incident_id",
    "proactive",
    "next_update_due",
    "resolved_at",
    "recurring_issue_id",
    "updated_at",
)


def case_rows(
    factory: sessionmaker[Session],
    flt: CaseFilter,
    *,
    statuses: Collection[str] | None = None,
    ids: Collection[str] | None = None,
    chunk: int = CHUNK_ROWS,
) -> Iterator[Sequence[tuple[object, ...]]]:
    """Every matching case as COLUMNS, newest first, `chunk` rows per read."""

    def read(before: str | None) -> list[tuple[object, ...]]:
        with unit_of_work(factory) as session:
            found = repository.export_chunk(
                session, flt, before=before, limit=chunk, statuses=statuses, ids=ids
            )
            return [
                (
                    case.id,
                    case.created_at,
                    case.status,
                    case.kind,
                    case.channel,
                    case.subject,
                    case.customer_id,
                    customer_name,
                    case.owner_id,
                    owner_name,
                    case.caused_by_department_id,
                    department_name,
                    case.order_id,
                    order_number,
                    case.incident_id,
                    case.proactive,
                    case.next_update_due,
                    case.resolved_at,
                    case.recurring_issue_id,
                    case.updated_at,
                )
                for case, customer_name, owner_name, department_name, order_number in found
            ]

    return keyset_chunks(read, key=lambda row: str(row[0]), size=chunk)


@router.get(
    "/cases.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "Every matching case, one per row"}},
)
def export_cases(ctx: ApiContext, flt: Filters, request: Request) -> StreamingResponse:
    """Every case that `GET /cases` lists for the same filters (all pages, newest first) as a CSV
    download: one row per case with its customer's, owner's and department's names and the order
    number. Text cells that a spreadsheet would run as a formula start with `'`."""
    factory = request.app.state.session_factory
    return csv_response(
        name="cases",
        day=local_date(ctx.now, ctx.settings.timezone),
        header=COLUMNS,
        chunks=case_rows(factory, flt),
    )


@pages.get("/exports/cases.csv")
def export_case_page(
    ctx: StaffPage,
    flt: Filters,
    q: Annotated[str, Query(max_length=200)] = "",
    scope: Annotated[str, Query(max_length=20)] = "active",
) -> StreamingResponse:
    """What the case search page shows for `q` and `scope` (as there, open cases unless "all"),
    or with no words, every case of the scope."""
    text = q.strip()
    statuses = None if scope == "all" else ACTIVE_STATUSES
    ids = None
    if text:
        found = queries.search_cases(ctx.session, text, active_only=statuses is not None)
        ids = [case.id for case, _customer in found]
    factory = ctx.request.app.state.session_factory
    return csv_response(
        name="cases",
        day=local_date(ctx.now, ctx.settings.timezone),
        header=COLUMNS,
        chunks=case_rows(factory, flt, statuses=statuses, ids=ids),
    )
