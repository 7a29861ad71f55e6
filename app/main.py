"""The application factory: `create_app(settings)` wires the core to FastAPI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app import admin, routes, status_page
from app.access import AccessLog
from app.asgi import FastLeads
from app.cache import KeyMaker, MemoryStorage
from app.config import Settings
from app.cors import Cors
from app.docs import add_docs
from app.filling import Filler, ProxyConfig
from app.fixtures import FixtureSet, load_fixtures
from app.history import History
from app.journal import Journal
from app.mock import MockService
from app.openapi import exact_openapi
from app.pacing import Pacer, SharedPacer
from app.proxy import ProxyService
from app.record import Recorder
from app.replay import Replay
from app.setting_values import LogFormat, Mode, ReplayMode, Switch
from app.shared import Shared
from app.stats import Stats
from app.throttle import Throttle
from app.upstream import Upstream

log = logging.getLogger("leads_proxy")
RECORD_ONLY = ("anonymize", "record_as_default", "max_recordings")
MOCK_METHODS = ("GET", "HEAD", "OPTIONS")
PROXY_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # forwarded too
WORKER_ENV = "_LEADS_PROXY_WORKER"  # the file of settings `serve --workers N` hands each worker

DESCRIPTION = """\
A local stand-in for the Sondos AI API's **List leads** endpoint.
Point a client's base URL at `http://<this host>/api` instead of
`https://app.sondos-ai.com/api`.

In mock mode, choose scenarios with the `Prefer` header: `example=<name>`,
`code=<status>`, `dynamic=true` (with `seed=<n>`, `count=<n>`), `delay=<ms>`.
In proxy mode, answers carry `Cache-Status`, `Age` and `X-Cache`.
"""


def create_app(
    settings: Settings, *, fixtures: FixtureSet | None = None, stats_dir: Path | None = None
) -> FastAPI:
    """Build the app for the settings' mode; loads the fixtures if it needs them.

    `stats_dir` is where the workers of one server keep their counters.
    """
    if fixtures is None and settings.needs_fixtures:
        fixtures = load_fixtures(settings.fixtures)
    json_logs = settings.log_format is LogFormat.JSON
    access = AccessLog(json_lines=json_logs) if settings.access_log is Switch.ON else None
    journal = Journal(settings.journal_size, directory=stats_dir) if settings.journal_size else None
    history = History(stats_dir)
    service: MockService | ProxyService
    if settings.mode is Mode.MOCK and fixtures is not None:
        limit = settings.rate_limit
        service = MockService(
            fixtures,
            require_auth=settings.mock_auth is Switch.ON,
            throttle=Throttle(limit) if limit is not None else None,
            replay=None
            if settings.replay is ReplayMode.EMULATED
            else Replay(fixtures.recordings, strict=settings.replay is ReplayMode.RECORDED),
        )
    else:
        # Text lines are the proxy's own; JSON lines are all written by the ASGI layer.
        own_lines = None if json_logs else access
        service = build_proxy(settings, fixtures, stats=Stats(stats_dir), access=own_lines)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        flusher = loop.create_task(access.run()) if access else None
        sharing = loop.create_task(journal.run()) if journal and stats_dir else None
        if isinstance(service, ProxyService):
            await service.start()
        yield
        if isinstance(service, ProxyService):
            await service.close()
        for task in (flusher, sharing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="leads-proxy",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by app.docs, from this process
        redoc_url=None,
    )
    add_docs(app)
    names = fixtures.names() if fixtures is not None and settings.mode is Mode.MOCK else []
    app.openapi = exact_openapi(app, lambda: names)  # type: ignore[method-assign]
    app.router.redirect_slashes = False  # Laravel answers /path/ as /path (see app.asgi)
    app.state.settings = settings
    app.state.service = service
    app.state.access = access
    app.state.journal = journal
    app.state.history = history
    app.state.started = time.time()
    if isinstance(service, ProxyService):
        service.filler.history = history
    _routes(app, service)
    _say_what_serves(settings, service, fixtures)
    return app


def _routes(app: FastAPI, service: MockService | ProxyService) -> None:
    """The routes of the service's mode, and the errors in the API's JSON shape."""
    app.include_router(routes.router)
    app.include_router(admin.router)
    app.include_router(status_page.router)
    if isinstance(service, ProxyService):
        app.include_router(routes.passthrough)
        app.include_router(admin.proxy_router)
    else:
        app.include_router(admin.mock_router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)


def _say_what_serves(
    settings: Settings, service: MockService | ProxyService, fixtures: FixtureSet | None
) -> None:
    """The start-up lines: what is served, how, and settings that do nothing here."""
    if settings.mode is not Mode.RECORD:
        for name in RECORD_ONLY:
            if name in settings.model_fields_set:
                log.warning(
                    "--%s does nothing in %s mode: it is a record mode setting",
                    name.replace("_", "-"),
                    settings.mode.value,
                )
    if settings.mode is not Mode.MOCK and settings.rate_limit is not None:
        log.warning("--mock-rate-limit does nothing in %s mode", settings.mode.value)
    if fixtures is not None:
        log.info("fixtures from %s: examples %s", settings.fixtures, ", ".join(fixtures.names()))
        for warning in fixtures.warnings:
            log.warning("%s", warning)
    if isinstance(service, MockService):
        log.info("mock mode; auth %s", settings.mock_auth.value)
        if (
            fixtures is not None
            and fixtures.recordings
            and settings.replay is not ReplayMode.EMULATED
        ):
            keys = {recording.key for recording in fixtures.recordings}
            log.info(
                "replaying %d recordings (%d keys); --replay %s",
                len(fixtures.recordings),
                len(keys),
                settings.replay.value,
            )
        if settings.rate_limit is not None:
            log.info("mock mode: at most %s per API key", settings.mock_rate_limit)
        if settings.cache_url is not None:
            log.info("mock mode: --cache-url is not used")
    else:
        log.info(
            "%s mode to %s; ttl %gs, stale-while-revalidate %gs, stale-if-error %gs%s",
            settings.mode.value,
            settings.upstream_url,
            settings.ttl,
            settings.stale_while_revalidate,
            settings.stale_if_error,
            "; fallback to fixtures" if fixtures is not None else "",
        )
        if settings.cache_url is None and settings.workers > 1:
            log.warning(
                "%d workers without --cache-url: each caches on its own; "
                "add --cache-url to share one cache and one upstream budget",
                settings.workers,
            )


def build_proxy(
    settings: Settings,
    fixtures: FixtureSet | None,
    *,
    stats: Stats | None = None,
    access: AccessLog | None = None,
) -> ProxyService:
    stats = stats or Stats()
    shared = (
        Shared(settings.cache_url.get_secret_value(), timeout=settings.cache_timeout, stats=stats)
        if settings.cache_url is not None
        else None
    )
    pacer = Pacer(settings.upstream_max_rps)
    upstream = Upstream(
        str(settings.upstream_url),
        timeout=settings.upstream_timeout,
        pacer=SharedPacer(shared, settings.upstream_max_rps, alone=pacer)
        if shared is not None and settings.upstream_max_rps
        else pacer,
    )
    secret = settings.key_secret.get_secret_value().encode() if settings.key_secret else None
    filler = Filler(
        upstream=upstream,
        storage=MemoryStorage(
            max_entries=settings.max_entries, max_bytes=settings.max_bytes, clock=time.monotonic
        ),
        config=ProxyConfig(
            ttl=settings.ttl,
            stale_while_revalidate=settings.stale_while_revalidate,
            stale_if_error=settings.stale_if_error,
            max_entry_bytes=settings.max_entry_bytes,
            max_cooldown=settings.max_cooldown,
        ),
        stats=stats,
        shared=shared,
        hold=settings.local_ttl,
        recorder=Recorder(
            settings.fixtures,
            upstream=str(settings.upstream_url),
            anonymize=settings.anonymize is Switch.ON,
            as_default=settings.record_as_default is Switch.ON,
            max_recordings=settings.max_recordings,
        )
        if settings.mode is Mode.RECORD
        else None,
    )
    return ProxyService(
        filler=filler,
        keys=KeyMaker(secret),
        fallback=MockService(fixtures, require_auth=False) if fixtures is not None else None,
        access=access,
    )


def create_asgi(
    settings: Settings, *, fixtures: FixtureSet | None = None, stats_dir: Path | None = None
) -> FastLeads:
    """The app as served: the hot path answered in front of FastAPI, which does the rest.

    The fast layer sits outside Starlette's own middleware stack on purpose:
    that stack alone costs a good part of the hot path's budget.
    """
    app = create_app(settings, fixtures=fixtures, stats_dir=stats_dir)
    json_logs = settings.log_format is LogFormat.JSON
    mock_lines = app.state.access if settings.mode is Mode.MOCK or json_logs else None
    methods = MOCK_METHODS if settings.mode is Mode.MOCK else PROXY_METHODS
    return FastLeads(
        app,
        service=app.state.service,
        access=mock_lines,
        give_up_when_gone=settings.mode is not Mode.MOCK,
        cors=Cors.of(settings.cors_list, methods),
        journal=app.state.journal,
        history=app.state.history if settings.mode is Mode.MOCK else None,
    )


def write_worker_settings(settings: Settings, folder: Path) -> str:
    """Write what `serve --workers N` hands each worker into `folder`; the file's path.

    Every setting, secrets included, goes into a file only this user can read
    (0600, in a private temporary folder the server removes at exit); the
    workers' environment holds only its path. The folder also holds the
    workers' counters.
    """
    values: dict[str, Any] = settings.model_dump(mode="json", exclude_unset=True)
    for name in values:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            values[name] = value.get_secret_value()
    path = folder / "settings.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"settings": values, "stats_dir": str(folder)}, file)
    return str(path)


def worker_app() -> FastLeads:
    """One worker of `serve --workers N` (a uvicorn app factory)."""
    given = json.loads(Path(os.environ[WORKER_ENV]).read_text(encoding="utf-8"))
    settings = Settings(**given["settings"])
    from app.guard import configure  # noqa: PLC0415 - uvicorn's, for the serving process only

    configure(settings.max_header_bytes, settings.header_timeout)
    return create_asgi(settings, stats_dir=Path(given["stats_dir"]))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):
        raise error
    route = request.url.path.lstrip("/")
    headers = dict(error.headers or {})
    message = error.detail
    if error.status_code == 404 and message == "Not Found":  # no route: Laravel's words
        message = f"The route {route} could not be found."
    elif error.status_code == 405 and "Allow" in headers:
        # Every operation on the path, not only the first route that matched it (GET
        # and DELETE of /_proxy/requests are two routes): as the document lists them.
        allowed = set(headers["Allow"].replace(" ", "").split(","))
        operations = request.app.openapi()["paths"].get(request.url.path, {})
        allowed |= {method.upper() for method in operations}
        if "GET" in allowed:
            allowed.add("HEAD")  # answered as GET without a body (app.asgi)
        listed = ", ".join(sorted(allowed))
        headers["Allow"] = listed
        message = (
            f"The {request.method} method is not supported for route {route}. "
            f"Supported methods: {listed}."
        )
    return JSONResponse({"message": message}, status_code=error.status_code, headers=headers)


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
