"""Operator endpoints: health and Prometheus metrics, outside the versioned API."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from ownwell import __version__
from ownwell.cases.models import Case
from ownwell.commitments.models import Commitment
from ownwell.db import unit_of_work
from ownwell.notifications.models import OutboxMessage

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    with request.app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    """Counts read from the database at scrape time, so every web process reports the same."""
    registry = CollectorRegistry()
    cases = Gauge("ownwell_cases", "Cases by status", ["status"], registry=registry)
    outbox = Gauge("ownwell_outbox_messages", "Outbox messages by status", ["status"], registry=registry)
    commitments = Gauge("ownwell_commitments", "Commitments by status", ["status"], registry=registry)
    Gauge("ownwell_info", "Ownwell version", ["version"], registry=registry).labels(__version__).set(1)
    with unit_of_work(request.app.state.session_factory) as session:
        for gauge, model in ((cases, Case), (outbox, OutboxMessage), (commitments, Commitment)):
            for status, count in session.execute(select(model.status, func.count()).group_by(model.status)):
                gauge.labels(str(status)).set(count)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
