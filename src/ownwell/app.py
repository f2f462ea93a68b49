"""The FastAPI application: routers of every domain, error shapes, health."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ownwell import __version__
from ownwell.body_limit import BodySizeLimit
from ownwell.cases.lane import IntakeLane
from ownwell.clock import Clock, SystemClock
from ownwell.config import Settings, get_settings
from ownwell.db import database_unavailable, make_engine, make_session_factory
from ownwell.errors import AppError
from ownwell.keepalive import KeepAliveLimit
from ownwell.web import templates
from ownwell.web.security_headers import SecurityHeaders, headers_for

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
# What a client is told to wait after a database outage: a PostgreSQL restart takes seconds.
RETRY_AFTER_S = 5


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status)


def _field_of(loc: tuple[object, ...]) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    # pydantic puts the validator name in the path for Annotated/union members; drop it.
    parts = [p for p in parts if not p.startswith(("function-", "constrained-", "tagged-union["))]
    # ...and marks a bad dict key with "[key]" after the key itself.
    parts = [p for p in parts if p != "[key]"]
    return ".".join(parts) or None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if not request.url.path.startswith(API_PREFIX):
            # People on pages get a page, not JSON.
            return templates.TemplateResponse(
                request, "error.html", {"message": exc.message}, status_code=exc.status_code
            )
        return _error(exc.status_code, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
        if first.get("type") == "json_invalid":
            return _error(400, "invalid_json", "the request body is not valid JSON")
        message = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
        field = _field_of(tuple(first.get("loc", ())))
        if first.get("type") == "missing":
            message = "this field is required" if field else "a JSON request body is required"
        elif first.get("type") == "extra_forbidden":
            message = "this field is not part of the API"
        return _error(422, "invalid", f"{field}: {message}" if field else message, field)

    @app.exception_handler(DBAPIError)
    async def _database_error(request: Request, exc: DBAPIError) -> Response:
        if not database_unavailable(exc):
            return await _unexpected(request, exc)
        # One line, the cause only: the statement's parameters can hold customers' personal data
        # (the engine hides them too), and an outage would otherwise repeat a traceback a request.
        # The route's template, not the path: a portal link's path is the customer's key to it.
        route = getattr(request.scope.get("route"), "path", None) or request.url.path
        if request.url.path.startswith(API_PREFIX) and not route.startswith(API_PREFIX):
            route = API_PREFIX + route  # FastAPI keeps the route as declared, without the prefix
        log.error("database unavailable on %s %s: %s", request.method, route, exc.orig)
        retry = {"Retry-After": str(RETRY_AFTER_S)}
        message = "the database is not reachable right now; nothing was stored, try again shortly"
        if not request.url.path.startswith(API_PREFIX):
            return templates.TemplateResponse(
                request, "error.html", {"message": message}, status_code=503, headers=retry
            )
        answer = _error(503, "unavailable", message)
        answer.headers.update(retry)
        return answer

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        answer = _error(500, "internal", "something went wrong on our side; it has been logged")
        # Starlette sends this answer outside every middleware, SecurityHeaders included.
        present = {name for name, _ in answer.raw_headers}
        answer.raw_headers.extend(headers_for(request.scope, present))
        return answer

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400: FastAPI could not parse the body (JSON nested too deep, a number too long...).
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return _error(exc.status_code, code, str(exc.detail))


def create_app(
    *, settings: Settings | None = None, clock: Clock | None = None, engine: Engine | None = None
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url)
    app = FastAPI(
        title="Ownwell",
        version=__version__,
        description="Customer care where every problem has one named owner.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    install_error_handlers(app)
    # The last added is the outermost: KeepAliveLimit, then the security headers (so every
    # answer has them, the lane's and the body limit's too), then the body limit around the lane.
    app.add_middleware(IntakeLane, path=f"{API_PREFIX}/cases")
    app.add_middleware(BodySizeLimit)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(KeepAliveLimit)

    from ownwell.agenda.api import router as agenda_router
    from ownwell.audit.api import router as audit_router
    from ownwell.cases.api import router as cases_router
    from ownwell.commitments.api import router as commitments_router
    from ownwell.customers.api import router as customers_router
    from ownwell.incidents.api import router as incidents_router
    from ownwell.insights.api import router as insights_router
    from ownwell.knowledge.api import router as knowledge_router
    from ownwell.metrics.api import router as metrics_router
    from ownwell.notifications.api import router as outbox_router
    from ownwell.offers.api import router as offers_router
    from ownwell.orders.api import router as orders_router
    from ownwell.staff.api import router as staff_router

    for router in (
        staff_router,
        customers_router,
        cases_router,
        commitments_router,
        agenda_router,
        outbox_router,
        orders_router,
        incidents_router,
        metrics_router,
        knowledge_router,
        offers_router,
        insights_router,
        audit_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    _include_exports(app)

    from fastapi.staticfiles import StaticFiles

    from ownwell.feedback.web import router as feedback_pages
    from ownwell.web import STATIC_DIR

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(feedback_pages)
    from ownwell.portal.web import router as portal_pages

    app.include_router(portal_pages)
    from ownwell.feedback.api import router as kudos_router
    from ownwell.portal.api import router as fair_solution_router

    app.include_router(kudos_router, prefix=API_PREFIX)
    app.include_router(fair_solution_router, prefix=API_PREFIX)
    from ownwell.intake.web import router as help_pages

    app.include_router(help_pages)
    # E-mail in: the quarantine and attachments (JSON), and the customer's file download.
    from ownwell.intake.api import router as intake_router
    from ownwell.intake.attachments_web import router as attachment_pages

    app.include_router(intake_router, prefix=API_PREFIX)
    app.include_router(attachment_pages)

    from ownwell.ops import router as ops_router

    app.include_router(ops_router)

    # The staff web app: sign-in, My day, case pages, customers, search.
    from ownwell.agenda.web import router as day_pages
    from ownwell.cases.web import router as case_pages
    from ownwell.cases.web_forms import router as case_forms
    from ownwell.customers.web import router as customer_pages
    from ownwell.staff.web import router as sign_in_pages
    from ownwell.web.session import install_sign_in_redirect

    install_sign_in_redirect(app)
    for pages in (sign_in_pages, day_pages, case_pages, case_forms, customer_pages):
        app.include_router(pages)

    # Staff pages around the cases: departments, incidents, approvals, outbox, settings, insights.
    from ownwell.audit.web import router as audit_pages
    from ownwell.incidents.web import router as incident_pages
    from ownwell.insights.web import router as recurring_pages
    from ownwell.metrics.web import router as insight_pages
    from ownwell.notifications.web import router as outbox_pages
    from ownwell.offers.web import router as approval_pages
    from ownwell.staff.web_departments import router as department_pages
    from ownwell.staff.web_settings import router as settings_pages

    for pages in (
        department_pages,
        incident_pages,
        approval_pages,
        outbox_pages,
        settings_pages,
        insight_pages,
        recurring_pages,
        audit_pages,
    ):
        app.include_router(pages)

    return app


def _include_exports(app: FastAPI) -> None:
    """CSV downloads: each domain's writer behind an API route and a staff page route."""
    from ownwell.cases import export as case_export
    from ownwell.insights import export as issue_export
    from ownwell.metrics import export as metric_export

    for module in (case_export, metric_export, issue_export):
        app.include_router(module.router, prefix=API_PREFIX)
        app.include_router(module.pages)
