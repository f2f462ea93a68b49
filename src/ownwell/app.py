"""The FastAPI application: routers of every domain, error shapes, health."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from ownwell import __version__
from ownwell.clock import Clock, SystemClock
from ownwell.config import Settings, get_settings
from ownwell.db import make_engine, make_session_factory
from ownwell.errors import AppError
from ownwell.web import templates

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal", "something went wrong on our side; it has been logged")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # 400: FastAPI could not parse the body (JSON nested too deep, a number too long...).
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}.get(
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

    from ownwell.agenda.api import router as agenda_router
    from ownwell.cases.api import router as cases_router
    from ownwell.commitments.api import router as commitments_router
    from ownwell.customers.api import router as customers_router
    from ownwell.incidents.api import router as incidents_router
    from ownwell.notifications.api import router as outbox_router
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
    ):
        app.include_router(router, prefix=API_PREFIX)

    from fastapi.staticfiles import StaticFiles

    from ownwell.feedback.web import router as feedback_pages
    from ownwell.web import STATIC_DIR

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(feedback_pages)
    from ownwell.portal.web import router as portal_pages

    app.include_router(portal_pages)
    from ownwell.intake.web import router as help_pages

    app.include_router(help_pages)

    from ownwell.ops import router as ops_router

    app.include_router(ops_router)

    return app
