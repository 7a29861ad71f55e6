"""The FastAPI routes of `create_app(Settings(...))`, driven in process (no sockets):
the listing in mock and proxy modes, and proxy mode's pass-through with its body bound.

These are the app without the ASGI layer in front (`edge.asgi`): what FastAPI
answers when a request reaches it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from leads_proxy.edge.asgi import SERVED, Message, Scope
from leads_proxy.edge.factory import create_app
from leads_proxy.edge.modes import Outside
from leads_proxy.http.service import Served
from leads_proxy.settings.declarations import Settings
from leads_proxy.settings.values import Mode
from tests.support import BUNDLED

AUTH = {"Authorization": "Bearer 1|routes-key"}
UPSTREAM = "http://upstream.test/api"
Call = Callable[[httpx.AsyncClient], Awaitable[Any]]


@dataclass
class Recorded:
    """The app, and the scopes it answered, to read back what each route left in them."""

    app: FastAPI
    scopes: list[Scope] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        await self.app(scope, receive, send)

    def served(self) -> list[Served | None]:
        return [scope.get(SERVED) for scope in self.scopes]


def drive(app: Recorded, call: Call) -> Any:
    """Run `call` with a client on the app, in process."""

    async def run() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://leads.test") as client:
            return await call(client)

    return asyncio.run(run())


def mock_app(**settings: Any) -> Recorded:
    return Recorded(create_app(Settings(**settings)))


@dataclass
class FakeUpstream:
    """The upstream as an httpx.MockTransport: counts what it receives."""

    seen: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/api/user/leads":
            return httpx.Response(200, json=[{"id": len(self.seen)}])
        return httpx.Response(200, json={"echo": len(request.content)})


def proxy_app(upstream: FakeUpstream, **settings: Any) -> Recorded:
    given = Settings(mode=Mode.PROXY, upstream_url=UPSTREAM, **settings)
    return Recorded(create_app(given, outside=Outside(transport=httpx.MockTransport(upstream))))


# --- the listing ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/user/leads", "/leads"])
def test_listing__mock_mode_answers_the_default_fixture_from_either_path(path: str) -> None:
    app = mock_app()
    answer = drive(app, lambda client: client.get(path, headers=AUTH))
    assert answer.status_code == 200
    assert answer.json() == json.loads((BUNDLED / "leads" / "default.json").read_text())
    assert answer.headers["x-mock-source"] == "emulated"
    assert answer.headers["etag"].startswith('"')
    (served,) = app.served()
    assert served is not None
    assert served.reply.body == answer.content  # the record of what was sent


def test_listing__mock_mode_without_a_key_is_laravels_401() -> None:
    answer = drive(mock_app(), lambda client: client.get("/api/user/leads"))
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthenticated."})


def test_listing__the_service_reads_the_raw_query() -> None:
    answer = drive(
        mock_app(), lambda client: client.get("/api/user/leads?per_page=500", headers=AUTH)
    )
    assert answer.status_code == 422
    assert "per_page" in answer.json()["errors"]


def test_listing__a_prefer_delay_is_waited_by_the_route() -> None:
    headers = {**AUTH, "Prefer": "delay=80"}
    started = time.perf_counter()
    answer = drive(mock_app(), lambda client: client.get("/api/user/leads", headers=headers))
    assert answer.status_code == 200
    assert answer.headers["preference-applied"] == "delay=80"
    assert time.perf_counter() - started >= 0.08


def test_listing__proxy_mode_fills_once_then_hits() -> None:
    upstream = FakeUpstream()
    app = proxy_app(upstream)

    async def twice(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/api/user/leads", headers=AUTH) for _ in range(2)]

    first, second = drive(app, twice)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.json() == second.json() == [{"id": 1}]
    assert len(upstream.seen) == 1
    assert upstream.seen[0].headers["authorization"] == AUTH["Authorization"]
    assert [served.cache for served in app.served() if served is not None] == ["MISS", "HIT"]


def test_listing__mock_mode_has_no_pass_through() -> None:
    answer = drive(mock_app(), lambda client: client.post("/api/user/me", headers=AUTH))
    assert answer.status_code == 404
    assert answer.json() == {"message": "The route api/user/me could not be found."}


# --- the pass-through and its body bound ------------------------------------------------


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """A body with no Content-Length, sent in parts."""
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"x" * 1000, 200, id="at-the-bound"),
        pytest.param(b"", 200, id="empty"),
        pytest.param(b"x" * 1001, 413, id="one-byte-over"),
        pytest.param(lambda: chunks(b"x" * 600, b"x" * 400), 200, id="chunked-at-the-bound"),
        pytest.param(lambda: chunks(b"x" * 600, b"x" * 401), 413, id="chunked-one-byte-over"),
    ],
)
def test_passthrough__a_body_over_max_body_bytes_is_a_413_and_not_sent(
    body: bytes | Callable[[], AsyncIterator[bytes]], status: int
) -> None:
    upstream = FakeUpstream()
    app = proxy_app(upstream, max_body_bytes=1000)
    content = body if isinstance(body, bytes) else body()
    answer = drive(app, lambda client: client.post("/api/user/lead", headers=AUTH, content=content))
    assert answer.status_code == status
    if status == 413:
        assert answer.json() == {
            "message": "The request body is over 1000 bytes, the most passed on."
        }
        assert upstream.seen == []
        assert app.served() == [None]  # nothing was forwarded, nothing to record
    else:
        assert answer.json() == {"echo": len(upstream.seen[0].content)}
        assert len(upstream.seen[0].content) in {0, 1000}
        (served,) = app.served()
        assert served is not None
        assert (served.forwarded, served.cache) == (True, "BYPASS")


def test_passthrough__a_declared_length_over_the_bound_is_refused_before_reading() -> None:
    upstream = FakeUpstream()
    app = proxy_app(upstream, max_body_bytes=10)
    receive_calls = 0

    async def run() -> list[Message]:
        nonlocal receive_calls
        sent: list[Message] = []
        scope: Scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/api/user/lead",
            "raw_path": b"/api/user/lead", "query_string": b"",
            "headers": [(b"host", b"leads.test"), (b"content-length", b"1000000")],
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 1),
        }  # fmt: skip

        async def receive() -> Message:
            nonlocal receive_calls
            receive_calls += 1
            return {"type": "http.request", "body": b"x" * 10, "more_body": True}

        async def send(message: Message) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    received = asyncio.run(run())
    assert received[0]["status"] == 413
    assert receive_calls == 0  # a million bytes announced: none of them read
    assert upstream.seen == []


def test_passthrough__forwards_method_path_query_and_body() -> None:
    upstream = FakeUpstream()
    app = proxy_app(upstream)
    answer = drive(
        app,
        lambda client: client.patch(
            "/api/user/leads/7?notify=1", headers={**AUTH, "X-Trace": "t"}, content=b"{}"
        ),
    )
    assert answer.status_code == 200
    (request,) = upstream.seen
    assert request.method == "PATCH"
    assert str(request.url) == "http://upstream.test/api/user/leads/7?notify=1"
    assert request.headers["x-trace"] == "t"
    assert request.content == b"{}"
