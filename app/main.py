"""The application factory: `create_app(settings)` wires the core to FastAPI."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app import admin, routes
from app.asgi import FastLeads
from app.config import Settings, Switch
from app.fixtures import FixtureSet, load_fixtures
from app.mock import MockService

log = logging.getLogger("leads_proxy")

DESCRIPTION = """\
A local stand-in for the Sondos AI API's **List leads** endpoint.
Point a client's base URL at `http://<this host>/api` instead of
`https://app.sondos-ai.com/api`. Choose scenarios with the `Prefer` header:
`example=<name>`, `code=<status>`, `dynamic=true` (with `seed=<n>`,
`count=<n>`), `delay=<ms>`.
"""


def create_app(settings: Settings, *, fixtures: FixtureSet | None = None) -> FastAPI:
    """Build the app; loads and validates the fixtures unless given them."""
    fixtures = fixtures if fixtures is not None else load_fixtures(settings.fixtures)
    service = MockService(fixtures, require_auth=settings.mock_auth is Switch.ON)

    app = FastAPI(title="leads-proxy", version="0.1.0", description=DESCRIPTION)
    app.state.settings = settings
    app.state.service = service
    app.include_router(routes.router)
    app.include_router(admin.router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)

    log.info(
        "mock mode on %s: examples %s; auth %s",
        settings.fixtures,
        ", ".join(fixtures.names()),
        settings.mock_auth.value,
    )
    for warning in fixtures.warnings:
        log.warning("%s", warning)
    return app


def create_asgi(settings: Settings, *, fixtures: FixtureSet | None = None) -> FastLeads:
    """The app as served: the hot path answered in front of FastAPI, which does the rest.

    The fast layer sits outside Starlette's own middleware stack on purpose:
    that stack alone costs a good part of the hot path's budget.
    """
    app = create_app(settings, fixtures=fixtures)
    return FastLeads(app, service=app.state.service)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):
        raise error
    return JSONResponse(
        {"message": error.detail}, status_code=error.status_code, headers=error.headers
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):
        raise error
    errors: dict[str, list[str]] = {}
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"][1:]) or "request"
        errors.setdefault(field, []).append(str(problem["msg"]))
    first = next(iter(errors.values()))[0]
    return JSONResponse({"message": first, "errors": errors}, status_code=422)


async def _server_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette logs the traceback for the operator; the client gets Laravel's body.
    return JSONResponse({"message": "Server Error"}, status_code=500)
