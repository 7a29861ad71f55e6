"""Proxy mode as served, in this process: a fake clock, a scripted upstream, no socket.

`Proxy.start(script, **settings)` builds the app with `create_asgi`, as
`leads-proxy serve` does, on the clock and upstream it is given, and talks
HTTP to it through httpx's ASGITransport (which runs no lifespan: nothing in
proxy mode's memory cache needs one). Every request runs on one event loop
kept for the whole test, so a background refresh that one request starts is
still on its way for the next. Time moves only when a test moves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from leads_proxy.edge.factory import create_asgi
from leads_proxy.edge.modes import Outside
from leads_proxy.proxy.service import ProxyService
from leads_proxy.settings.declarations import Settings
from tests.fakes import WALL, Clock, Script

A = {"Authorization": "Bearer 1|alpha-secret-key-0001"}
B = {"Authorization": "Bearer 2|bravo-secret-key-0002"}


@dataclass
class Proxy:
    """One proxy-mode app, its fake clock and the upstream behind it."""

    client: httpx.AsyncClient
    service: ProxyService
    clock: Clock
    upstream: Script
    loop: asyncio.Runner

    @classmethod
    def start(cls, script: Script, **settings: Any) -> Proxy:
        """The app on `script`, its monotonic clock at 1000 s, its wall clock fixed at WALL."""
        clock = Clock()
        outside = Outside(clock=clock, wall=lambda: WALL, transport=httpx.MockTransport(script))
        chosen = Settings(
            mode="proxy", upstream_url="http://upstream.test/api", access_log="off", **settings
        )
        app = create_asgi(chosen, outside=outside)
        assert isinstance(app.service, ProxyService)
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://localhost")
        return cls(client, app.service, clock, script, asyncio.Runner())

    def get(self, path: str = "/leads", headers: Mapping[str, str] = A) -> httpx.Response:
        return self.loop.run(self.client.get(path, headers=headers))

    def later(self, seconds: float) -> None:
        self.clock.now += seconds

    def settle(self) -> None:
        """Wait for the fills on their way (a background refresh) to end."""
        self.loop.run(self.service.filler.drain())

    def asked(self, headers: Mapping[str, str] | None = None) -> int:
        """Requests the upstream saw: all, or those with these headers' Authorization."""
        if headers is None:
            return len(self.upstream.requests)
        key = headers["Authorization"]
        return sum(seen.headers.get("authorization") == key for seen in self.upstream.requests)

    def stop(self) -> None:
        """Close the client, then the loop: a refresh still on its way is cancelled."""
        self.loop.run(self.client.aclose())
        self.loop.close()


StartProxy = Callable[..., Proxy]
