"""Running the app under its HTTP server: uvicorn (the default) or granian.

Under uvicorn, every connection is `GuardedHttpTools` (the head's bounds, the
connections a process can hold, ready listings written by the protocol);
`configure` sets it up in the server process and in each worker, and
`answer_ready_from` once the app is built. Under granian, the head's bounds
are granian's own settings (`--max-header-bytes` its read buffer,
`--header-timeout` its head timeout) and `--limit-concurrency` its
backpressure; the app is the same ASGI app, built in each worker.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..fixtures.files import FixtureSet
from ..http.keys import use_secret
from ..settings.declarations import Settings
from ..settings.values import Server
from . import refusals
from .asgi import ASGIApp, FastLeads
from .factory import WORKER_ENV, create_asgi, write_worker_settings
from .guard import GuardedHttpTools
from .startup import (
    files_kept_back,
    fingerprint_secret,
    open_files_room,
    raise_open_files,
    say_open_files,
)

WORKER_APP = f"{__name__}:worker_app"
GRACE_SECONDS = 5  # answers under way may finish this long after a stop is asked
log = logging.getLogger("leads_proxy")


def configure(
    max_head_bytes: int, head_seconds: float, kept_back: int = 0, per_connection: int = 1
) -> None:
    """Set the bounds (and the answers that tell them) for every connection to come:
    the head's, and the connections this process can hold open, as it stands now
    (`startup.open_files_room`)."""
    guarded = GuardedHttpTools
    guarded.max_head_bytes, guarded.head_seconds = max_head_bytes, head_seconds
    guarded.too_large = refusals.too_large(max_head_bytes)
    guarded.too_slow = refusals.too_slow(head_seconds)
    guarded.too_framed = refusals.too_framed(max_head_bytes)
    room = guarded.max_connections = open_files_room(kept_back, per_connection)
    guarded.full = refusals.full(room)


def answer_ready_from(leads: FastLeads) -> FastLeads:
    """Have every connection to come write `leads`' ready listings itself (edge.ready)."""
    GuardedHttpTools.leads = leads
    return leads


def unavailable(settings: Settings) -> str | None:
    """Why the server asked for cannot run here, in one line; None if it can."""
    if settings.server is Server.GRANIAN and importlib.util.find_spec("granian") is None:
        return (
            "--server granian: granian is not installed; it is an optional part: "
            "`uv sync --extra granian` (or `pip install 'leads-proxy[granian]'`)"
        )
    return None


def run(settings: Settings, fixtures: FixtureSet | None, log_config: dict[str, Any]) -> None:
    """Serve until stopped (SIGINT or SIGTERM: answers under way get GRACE_SECONDS)."""
    fingerprints = fingerprint_secret(settings)
    use_secret(fingerprints)
    files = raise_open_files()  # before the workers start: they inherit it
    if settings.server is Server.GRANIAN:
        log.info(
            "granian: heads of at most %d bytes and %g s (granian answers past them); "
            "%d requests at once a worker, more wait",
            settings.max_header_bytes,
            settings.header_timeout,
            settings.limit_concurrency,
        )
        with _worker_settings(settings, fingerprints):
            _granian(settings, log_config)
        return
    configure(settings.max_header_bytes, settings.header_timeout, *files_kept_back(settings))
    say_open_files(files, GuardedHttpTools.max_connections)
    import uvicorn  # noqa: PLC0415 - the fixtures commands start without the web stack

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.value,
        "log_config": log_config,
        # leads-proxy writes the access lines itself, buffered (observe.access).
        "access_log": False,
        "timeout_graceful_shutdown": GRACE_SECONDS,
        "limit_concurrency": settings.limit_concurrency,
        "http": GuardedHttpTools,
    }
    if settings.workers > 1:
        with _worker_settings(settings, fingerprints):
            uvicorn.run(WORKER_APP, factory=True, workers=settings.workers, **options)
        return
    app = answer_ready_from(create_asgi(settings, fixtures=fixtures))
    # The fixtures live as long as the process: keep the collector from
    # rescanning their many small objects on every full collection.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, **options)


@contextmanager
def _worker_settings(settings: Settings, fingerprints: bytes) -> Iterator[None]:
    """Each worker builds its own app from the settings handed down in a file only this
    user can read (secrets never go into an environment that /proc shows), in a folder
    removed at exit; with several, they share that folder's counters, so that any of
    them can tell the totals."""
    with tempfile.TemporaryDirectory(prefix="leads-proxy-") as folder:
        shared = settings.workers > 1
        path = write_worker_settings(settings, Path(folder), fingerprints, shared=shared)
        os.environ[WORKER_ENV] = path
        try:
            yield
        finally:
            os.environ.pop(WORKER_ENV, None)


def _granian(settings: Settings, log_config: dict[str, Any]) -> None:
    from granian.constants import HTTPModes, Interfaces  # noqa: PLC0415
    from granian.http import HTTP1Settings  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415
    from granian.server import Server as Granian  # noqa: PLC0415

    config = {**log_config, "loggers": {**log_config["loggers"]}}
    level = settings.log_level.value.upper()
    config["loggers"]["_granian"] = {"handlers": ["default"], "level": level, "propagate": False}
    head = HTTP1Settings(
        header_read_timeout=max(1, round(settings.header_timeout * 1000)),
        max_buffer_size=settings.max_header_bytes,
    )
    Granian(
        WORKER_APP,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        http=HTTPModes.http1,
        websockets=False,
        backpressure=settings.limit_concurrency,
        http1_settings=head,
        log_level=LogLevels(settings.log_level.value),
        log_dictconfig=config,
        log_access=False,  # leads-proxy writes the access lines itself
        workers_kill_timeout=GRACE_SECONDS,
    ).serve()


def worker_app() -> ASGIApp:
    """One worker of `serve --workers N`, or granian's (an app factory)."""
    given = json.loads(Path(os.environ[WORKER_ENV]).read_text(encoding="utf-8"))
    settings = Settings(**given["settings"])
    use_secret(bytes.fromhex(given["fingerprints"]))

    configure(settings.max_header_bytes, settings.header_timeout, *files_kept_back(settings))
    stats_dir = None if given["stats_dir"] is None else Path(given["stats_dir"])
    app = answer_ready_from(create_asgi(settings, stats_dir=stats_dir))
    if settings.server is Server.GRANIAN:
        # uvicorn's own middleware, as uvicorn puts it in front: the client and scheme a
        # trusted proxy (FORWARDED_ALLOW_IPS, loopback by default) names. granian has none.
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: PLC0415

        trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        return ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type,return-value]
    return app
