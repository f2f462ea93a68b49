"""Operator endpoints: health and Prometheus metrics, outside the versioned API."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from ownwell import __version__
from ownwell.cases.models import Case
from ownwell.commitments.models import Commitment
from ownwell.db import unit_of_work
from ownwell.errors import Forbidden, NotAuthenticated
from ownwell.intake.models import QuarantinedMail
from ownwell.notifications.models import OutboxMessage, OutboxStatus
from ownwell.operations.repository import last_sweep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz(request: Request) -> dict[str, str]:
    with request.app.state.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}


def sweep_overdue_after(interval_s: float) -> timedelta:
    """How long without a sweep before a worker counts as gone: three missed sweeps, and never
    less than a minute (a sweep that delivers a backlog runs long)."""
    return timedelta(seconds=max(3 * interval_s, 60))


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers and some worker has swept timers lately. A load
    balancer or orchestrator polls this; /healthz only says the process is alive."""
    now = request.app.state.clock.now()
    settings = request.app.state.settings
    with unit_of_work(request.app.state.session_factory) as session:
        swept = last_sweep(session)
    problems = []
    if swept is None:
        problems.append(
            "no worker has swept yet: start `ownwell worker` or `ownwell serve` without --no-worker"
        )
    elif now - swept > sweep_overdue_after(settings.worker_interval_s):
        problems.append(f"no worker has swept since {swept.isoformat()}: reminders and mail are waiting")
    body = {
        "status": "not ready" if problems else "ready",
        "database": "ok",
        "worker_last_sweep_at": swept.isoformat() if swept else None,
        "problems": problems,
    }
    return JSONResponse(body, status_code=503 if problems else 200)


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
    oldest = Gauge(
        "ownwell_outbox_oldest_waiting_seconds",
        "Age of the oldest message still to be delivered (queued or retrying); 0 when none",
        registry=registry,
    )
    swept = Gauge(
        "ownwell_worker_last_sweep_timestamp_seconds",
        "Unix time of the newest sweep of any worker; 0 when none has swept",
        registry=registry,
    )
    quarantine = Gauge("ownwell_quarantined_mail", "Inbound mail kept in quarantine", registry=registry)
    Gauge("ownwell_info", "Ownwell version", ["version"], registry=registry).labels(__version__).set(1)
    now = request.app.state.clock.now()
    with unit_of_work(request.app.state.session_factory) as session:
        for gauge, model in ((cases, Case), (outbox, OutboxMessage), (commitments, Commitment)):
            for status, count in session.execute(select(model.status, func.count()).group_by(model.status)):
                gauge.labels(str(status)).set(count)
        waiting = (OutboxStatus.queued, OutboxStatus.retrying)
        first = session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status.in_(waiting))
        )
        oldest.set((now - first).total_seconds() if first else 0)
        last = last_sweep(session)
        swept.set(last.timestamp() if last else 0)
        quarantine.set(session.scalar(select(func.count()).select_from(QuarantinedMail)) or 0)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
