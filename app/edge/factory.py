"""The application factory: `create_app(settings)` wires the core to FastAPI.

The mode's parts come whole from `edge.modes`; the observer that writes down
every answer (`observe.observer`) is built here, once, for every mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ..fixtures.files import FixtureSet, load_fixtures
from ..observe.access import AccessLog
from ..observe.history import History
from ..observe.journal import Journal
from ..observe.observer import Observer
from ..settings.declarations import Settings
from ..settings.values import LogFormat, Mode, Switch
from . import admin, routes, status_page
from .asgi import FastLeads
from .cors import Cors
from .docs import add_docs
from .errors import add_error_handlers
from .hosts import AllowedHosts
from .modes import Outside, Wiring, wiring
from .openapi import exact_openapi
from .startup import say_what_serves

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
    settings: Settings,
    *,
    fixtures: FixtureSet | None = None,
    stats_dir: Path | None = None,
    outside: Outside | None = None,
) -> FastAPI:
    """Build the app for the settings' mode; loads the fixtures if it needs them.

    `stats_dir` is where the workers of one server keep their counters; `outside`
    the clocks and upstream transport (the real ones unless a test gives others).
    """
    return _assemble(settings, fixtures, stats_dir, outside)[0]


def create_asgi(
    settings: Settings,
    *,
    fixtures: FixtureSet | None = None,
    stats_dir: Path | None = None,
    outside: Outside | None = None,
) -> FastLeads:
    """The app as served: the hot path answered in front of FastAPI, which does the rest.

    The fast layer sits outside Starlette's own middleware stack on purpose:
    that stack alone costs a good part of the hot path's budget.
    """
    app, parts, observer = _assemble(settings, fixtures, stats_dir, outside)
    return FastLeads(
        app,
        service=parts.service,
        observer=observer,
        forwards=parts.forwards,
        cors=Cors.of(settings.cors_list, parts.methods),
        hosts=AllowedHosts((settings.allowed_hosts or "").split(","), listening_on=settings.host),
    )


def _assemble(
    settings: Settings,
    fixtures: FixtureSet | None,
    stats_dir: Path | None,
    outside: Outside | None,
) -> tuple[FastAPI, Wiring, Observer]:
    if fixtures is None and settings.needs_fixtures:
        fixtures = load_fixtures(settings.fixtures)
    json_logs = settings.log_format is LogFormat.JSON
    access = AccessLog(json_lines=json_logs) if settings.access_log is Switch.ON else None
    journal = Journal(settings.journal_size, directory=stats_dir) if settings.journal_size else None
    history = History(stats_dir)
    parts = wiring(settings, fixtures, history=history, stats_dir=stats_dir, outside=outside)
    observer = Observer(access=access, journal=journal, history=history, stats=parts.stats)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        flusher = loop.create_task(access.run()) if access else None
        sharing = loop.create_task(journal.run()) if journal and stats_dir else None
        if parts.start is not None:
            await parts.start()
        yield
        if parts.close is not None:
            await parts.close()
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
        docs_url=None,  # served by edge.docs, from this process
        redoc_url=None,
    )
    add_docs(app)
    names = fixtures.names() if fixtures is not None and settings.mode is Mode.MOCK else []
    app.openapi = exact_openapi(app, lambda: names)  # type: ignore[method-assign]
    app.router.redirect_slashes = False  # Laravel answers /path/ as /path (see edge.asgi)
    app.state.settings = settings
    app.state.service = parts.service
    app.state.writes = parts.writes
    app.state.dialer = parts.dialer
    app.state.journal = journal
    app.state.history = history
    app.state.started = time.time()
    for router in (routes.router, admin.router, status_page.router, *parts.routers):
        app.include_router(router)
    add_error_handlers(app)
    say_what_serves(settings, fixtures)
    return app, parts, observer


def write_worker_settings(
    settings: Settings, folder: Path, fingerprints: bytes, *, shared: bool = True
) -> str:
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
        stats = str(folder) if shared else None  # one worker keeps its counters itself
        given = {"settings": values, "stats_dir": stats, "fingerprints": fingerprints.hex()}
        json.dump(given, file)
    return str(path)
