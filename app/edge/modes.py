"""Each mode's collaborators, built from the settings and handed to the app whole.

`wiring(settings, ...)` answers a `Wiring`: the service, the routes it adds,
the methods CORS allows, whether it forwards the rest of the API, its counters,
and what to start and stop with the server. The app factory uses it as it is:
it never asks which service it was given, and patches nothing afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import APIRouter

from ..fixtures.files import FixtureSet
from ..fixtures.record import Recorder
from ..http.clock import Clock
from ..http.service import LeadsService
from ..mock.calling import Calls, Plan
from ..mock.dialer import Dialer
from ..mock.keyed import KeyedListings
from ..mock.replay import Replay
from ..mock.service import MockService
from ..mock.state import State
from ..mock.throttle import Throttle
from ..mock.writes import Writes
from ..observe.history import History
from ..observe.stats import Stats
from ..proxy.cache import KeyMaker
from ..proxy.filling import Filler, ProxyConfig
from ..proxy.pacing import Pacer, SharedPacer
from ..proxy.redis.shared import Shared
from ..proxy.service import ProxyService
from ..proxy.storage import MemoryStorage
from ..proxy.upstream import MAX_ANSWER_BYTES, Upstream
from ..settings.declarations import Settings
from ..settings.values import Mode, ReplayMode, Switch
from . import admin, routes
from . import calls as edge_calls
from . import writes as edge_writes

MOCK_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")
PROXY_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # forwarded too
Hook = Callable[[], Awaitable[None]]
STATE_FILE = "state.sqlite3"  # in the server's own folder, shared by its workers


@dataclass(frozen=True, slots=True)
class Outside:
    """What the core meets of the world: its clocks and its way to the upstream.

    The defaults are the real ones; the in-process tests give a fake clock and an
    `httpx.MockTransport`, and drive the app as served with no socket at all.
    """

    clock: Clock = time.monotonic  # every TTL, window and cooldown
    wall: Clock = time.time  # Retry-After dates
    transport: httpx.AsyncBaseTransport | None = None  # None: real HTTP to the upstream


@dataclass(frozen=True, slots=True)
class Wiring:
    """What one mode brings to the app."""

    service: LeadsService
    routers: tuple[APIRouter, ...]
    methods: tuple[str, ...]  # what CORS lets a page call
    forwards: bool = False  # the rest of /api/ goes upstream
    stats: Stats | None = None  # the answers counted by cache verdict (proxy modes)
    writes: Writes | None = None  # mock mode: the keys' lead writes
    dialer: Dialer | None = None  # mock mode with --mock-calls on: the simulated calls
    start: Hook | None = None
    close: Hook | None = None


def wiring(
    settings: Settings,
    fixtures: FixtureSet | None,
    *,
    history: History,
    stats_dir: Path | None = None,
    outside: Outside | None = None,
) -> Wiring:
    """The mode's parts: mock mode on the fixtures, or proxy and record modes."""
    if settings.mode is Mode.MOCK and fixtures is not None:
        wall = (outside or Outside()).wall
        state = State(settings.state_file or (stats_dir and stats_dir / STATE_FILE))
        calls = Calls(fixtures.campaigns, plan_of(settings), wall=wall)
        dialer = None
        if settings.mock_calls is Switch.ON:
            dialer = Dialer(state, calls, timeout=settings.mock_webhook_timeout, wall=wall)
        writes = Writes(state, fixtures, wall=wall, calls=calls if dialer else None)
        return Wiring(
            service=mock_service(settings, fixtures, KeyedListings(state, fixtures.default)),
            routers=(
                admin.mock_router,
                edge_writes.router,
                edge_writes.state_router,
                edge_calls.router,
            ),
            methods=MOCK_METHODS,
            writes=writes,
            dialer=dialer,
            start=dialer.start if dialer else None,
            close=_closing(state, dialer),
        )
    stats = Stats(stats_dir)
    proxy = build_proxy(settings, fixtures, stats=stats, history=history, outside=outside)
    return Wiring(
        service=proxy,
        routers=(routes.passthrough, admin.proxy_router),
        methods=PROXY_METHODS,
        forwards=True,
        stats=stats,
        start=proxy.start,
        close=proxy.close,
    )


def plan_of(settings: Settings) -> Plan:
    """How the simulated dialer runs, from the settings."""
    url = settings.mock_webhook_url
    return Plan(
        seed=settings.mock_calls_seed,
        speed=settings.mock_calls_speed,
        webhook_url=None if url is None else str(url),
        only_completed=settings.mock_webhook_only_completed is Switch.ON,
    )


def _closing(state: State, dialer: Dialer | None) -> Hook:
    async def close() -> None:
        if dialer is not None:
            await dialer.close()
        state.close()

    return close


def mock_service(
    settings: Settings, fixtures: FixtureSet, keyed: KeyedListings | None = None
) -> MockService:
    limit = settings.rate_limit
    return MockService(
        fixtures,
        keyed=keyed,
        require_auth=settings.mock_auth is Switch.ON,
        throttle=Throttle(limit) if limit is not None else None,
        replay=None
        if settings.replay is ReplayMode.EMULATED
        else Replay(fixtures.recordings, strict=settings.replay is ReplayMode.RECORDED),
    )


def build_proxy(
    settings: Settings,
    fixtures: FixtureSet | None,
    *,
    stats: Stats | None = None,
    history: History | None = None,
    outside: Outside | None = None,
) -> ProxyService:
    stats = stats or Stats()
    outside = outside or Outside()
    clock = outside.clock
    shared = (
        Shared(settings.cache_url.get_secret_value(), timeout=settings.cache_timeout, stats=stats)
        if settings.cache_url is not None
        else None
    )
    pacer = Pacer(settings.upstream_max_rps, clock=clock)
    upstream = Upstream(
        str(settings.upstream_url),
        timeout=settings.upstream_timeout,
        max_answer_bytes=max(MAX_ANSWER_BYTES, settings.max_entry_bytes),
        transport=outside.transport,
        clock=clock,
        pacer=SharedPacer(shared, settings.upstream_max_rps, alone=pacer)
        if shared is not None and settings.upstream_max_rps
        else pacer,
    )
    secret = settings.key_secret.get_secret_value().encode() if settings.key_secret else None
    filler = Filler(
        upstream=upstream,
        storage=MemoryStorage(
            max_entries=settings.max_entries, max_bytes=settings.max_bytes, clock=clock
        ),
        config=ProxyConfig(
            ttl=settings.ttl,
            stale_while_revalidate=settings.stale_while_revalidate,
            stale_if_error=settings.stale_if_error,
            max_entry_bytes=settings.max_entry_bytes,
            max_cooldown=settings.max_cooldown,
        ),
        stats=stats,
        clock=clock,
        wall=outside.wall,
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
        history=history,
    )
    return ProxyService(
        filler=filler,
        keys=KeyMaker(secret),
        clock=clock,
        fallback=MockService(fixtures, require_auth=False) if fixtures is not None else None,
    )
