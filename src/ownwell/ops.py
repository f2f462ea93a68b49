"""Operator endpoints: health and Prometheus metrics, outside the versioned API."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from ownwell import __version__
from ownwell.cases.models import Case
from ownwell.commitments.models import Commitment
from ownwell.db import unit_of_work
from ownwell.errors import Forbidden, NotAuthenticated
from ownwell.notifications.models import OutboxMessage

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    with request.app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_metrics_reader(request: Request) -> None:
    """With OWNWELL_METRICS_TOKEN set, the scraper sends it as a bearer token; without, only a
    client on this machine (127.0.0.0/8, ::1) may read the counts."""
    token = request.app.state.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise NotAuthenticated("send the metrics token as `Authorization: Bearer <token>`")
        return
    if not _loopback(request.client.host if request.client else None):
        raise Forbidden("metrics are served to this machine only, unless OWNWELL_METRICS_TOKEN is set")


@router.get("/metrics")
def prometheus(request: Request) -> Response:
    """Counts read from the database at scrape time, so every web process reports the same."""
    require_metrics_reader(request)
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
