"""GET /metrics: the care metrics of a period (SPEC "Metrics"). Not to be confused with the
Prometheus text at /metrics outside /api/v1 (ops.py)."""

from __future__ import annotations

from fastapi import APIRouter

from ownwell.deps import ApiContext
from ownwell.errors import InvalidInput
from ownwell.kit.text import BoundedText, Moment
from ownwell.metrics import policies, service
from ownwell.metrics.schemas import MetricsOut

router = APIRouter(tags=["metrics"])
IdQuery = BoundedText(40) | None  # type: ignore[valid-type]
MAX_RISK_LIMIT = 200


@router.get("/metrics", response_model=MetricsOut)
def metrics(
    ctx: ApiContext,
    since: Moment | None = None,
    until: Moment | None = None,
    department_id: IdQuery = None,
    risk_limit: int = 20,
) -> MetricsOut:
    """Every metric over [since, until) (default: the last 30 days), for the whole organisation
    (admins) or one department (`department_id`; what a supervisor may read)."""
    if not 1 <= risk_limit <= MAX_RISK_LIMIT:
        raise InvalidInput(f"risk_limit must be between 1 and {MAX_RISK_LIMIT}", field="risk_limit")
    policies.require_can_read(ctx.session, ctx.actor, department_id)
    return service.compute(
        ctx.session,
        since=since,
        until=until,
        department_id=department_id,
        now=ctx.now,
        risk_limit=risk_limit,
    )
