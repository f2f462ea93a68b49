"""The care metrics as CSV: `GET /api/v1/metrics.csv` (the parameters of `GET /metrics`) and
`GET /exports/metrics.csv` from the insights page (its department and weeks). One row per figure
the JSON gives: one per metric, one per department for the error rate, one per customer for the
disloyalty risk (and one for its weights). The columns are the JSON's field names, read from
`MetricsOut` itself, so a metric added there is exported without a change here."""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ownwell.deps import ApiContext
from ownwell.errors import InvalidInput
from ownwell.kit.csv_export import csv_response, local_date
from ownwell.kit.text import BoundedText, Moment
from ownwell.metrics import policies, service
from ownwell.metrics.api import MAX_RISK_LIMIT
from ownwell.metrics.schemas import DisloyaltyRisk, MetricsOut
from ownwell.metrics.web import DEFAULT_WEEKS, MAX_WEEKS, MIN_WEEKS, WEEK, chosen_department
from ownwell.web.session import StaffPage

router = APIRouter(tags=["metrics"])
pages = APIRouter(include_in_schema=False)
IdQuery = BoundedText(40) | None  # type: ignore[valid-type]
# What every row says about the whole answer: its period and the department it is about.
SCOPE = {"since": "since", "until": "until", "department_id": "scope_department_id"}
WEIGHTS = "weights"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, itself or as the items of a list; None for a plain value."""
    if get_origin(annotation) in (Union, types.UnionType):
        return None
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _names(model: type[BaseModel]) -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        names.extend(_names(inner) if inner else [name])
    return names


def _flat(item: BaseModel) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in type(item).model_fields:
        value = getattr(item, name)
        if isinstance(value, BaseModel):
            out.update(_flat(value))
        else:
            out[name] = value
    return out


def _columns() -> tuple[str, ...]:
    figures: list[str] = []
    for name, field in MetricsOut.model_fields.items():
        model = _model_of(field.annotation)
        if name in SCOPE or model is None:
            continue
        figures.extend(n for n in _names(model) if n not in figures and n != WEIGHTS)
    return (*SCOPE.values(), "metric", *figures)


COLUMNS = _columns()


def metric_rows(answer: MetricsOut) -> Iterator[tuple[object, ...]]:
    """The answer of `metrics.service.compute` as rows of COLUMNS."""
    scope = {column: getattr(answer, field) for field, column in SCOPE.items()}
    for name in MetricsOut.model_fields:
        if name in SCOPE:
            continue
        value = getattr(answer, name)
        if isinstance(value, DisloyaltyRisk):
            found = [{"metric": f"{name}.{WEIGHTS}", **value.weights}]
            found += [{"metric": name, **_flat(item)} for item in value.items]
        elif isinstance(value, list):
            found = [{"metric": name, **_flat(item)} for item in value]
        else:
            found = [{"metric": name, **_flat(value)}]
        for row in found:
            merged = {**scope, **row}
            yield tuple(merged.get(column) for column in COLUMNS)


@router.get(
    "/metrics.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per figure of GET /metrics"}},
)
def export_metrics(
    ctx: ApiContext,
    since: Moment | None = None,
    until: Moment | None = None,
    department_id: IdQuery = None,
    risk_limit: int = 20,
) -> StreamingResponse:
    """`GET /metrics` for the same parameters as a CSV download, under the same rule (admins
    everything, supervisors their own departments): one row per metric, per department of the
    error rate and per customer at risk, with the JSON's field names as columns."""
    if not 1 <= risk_limit <= MAX_RISK_LIMIT:
        raise InvalidInput(f"risk_limit must be between 1 and {MAX_RISK_LIMIT}", field="risk_limit")
    policies.require_can_read(ctx.session, ctx.actor, department_id)
    answer = service.compute(
        ctx.session, since=since, until=until, department_id=department_id, now=ctx.now, risk_limit=risk_limit
    )
    return csv_response(
        name="metrics",
        day=local_date(ctx.now, ctx.settings.timezone),
        header=COLUMNS,
        chunks=[list(metric_rows(answer))],
    )


@pages.get("/exports/metrics.csv")
def export_metrics_page(
    ctx: StaffPage, department_id: str | None = None, weeks: int = DEFAULT_WEEKS
) -> StreamingResponse:
    """The insights page's period and department: each week's figures, then all weeks together."""
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise InvalidInput(f"weeks must be between {MIN_WEEKS} and {MAX_WEEKS}", field="weeks")
    chosen = chosen_department(ctx, department_id)
    policies.require_can_read(ctx.session, ctx.actor, chosen)
    start = ctx.now - weeks * WEEK
    periods = [(start + i * WEEK, start + (i + 1) * WEEK) for i in range(weeks)] + [(start, ctx.now)]
    rows = [
        row
        for since, until in periods
        for row in metric_rows(
            service.compute(
                ctx.session, since=since, until=until, department_id=chosen, now=ctx.now, risk_limit=10
            )
        )
    ]
    return csv_response(
        name="metrics", day=local_date(ctx.now, ctx.settings.timezone), header=COLUMNS, chunks=[rows]
    )
