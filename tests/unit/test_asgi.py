"""The ASGI layer driven as servers drive it, with a fake service and a fake app behind.

No sockets: each request is a scope, a `receive` that hands out the messages a
test scripts, and a `send` that keeps what the layer sends. The observer is the
real one, writing to an in-memory access log and a journal.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from leads_proxy.edge.asgi import LEADS_PATHS, SERVED, FastLeads, Message, Scope
from leads_proxy.edge.cors import Cors
from leads_proxy.edge.modes import MOCK_METHODS
from leads_proxy.http.encoding import gzip_of
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head, Incoming
from leads_proxy.http.service import Served
from leads_proxy.observe.access import AccessLog
from leads_proxy.observe.journal import Journal
from leads_proxy.observe.observer import Observer
from leads_proxy.observe.stats import Stats
from tests.fakes import until

AUTH = (b"authorization", b"Bearer 1|asgi-key")
APP_ORIGIN = b"http://app.test:5173"
BODY = json.dumps([{"id": n, "note": "x" * 40} for n in range(40)]).encode()
READY = Served(Reply.json(200, BODY, (b"etag", b'"ready"')).with_gzip(gzip_of(BODY)), "HIT")
ANSWERED = Served(Reply.message(200, {"from": "answer"}), "MISS", 0.125)


@dataclass
class FakeService:
    """A LeadsService whose hot path and full path answer as a test sets them."""

    ready: Served | None = None
    answered: Served = ANSWERED
    error: BaseException | None = None
    gate: asyncio.Event | None = None  # the full path waits on it, when set
    heads: list[Head] = field(default_factory=list)
    incomings: list[Incoming] = field(default_factory=list)
    cancelled: bool = False

    def hot(self, head: Head) -> Served | None:
        self.heads.append(head)
        return self.ready

    async def answer(self, incoming: Incoming) -> Served:
        self.incomings.append(incoming)
        try:
            if self.gate is not None:
                await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.error is not None:
            raise self.error
        return self.answered


@dataclass
class FakeApp:
    """The wrapped app: answers 200 "app", keeps the scopes it saw, and may leave a record."""

    served: Served | None = None
    headers: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"text/plain"),)
    scopes: list[Scope] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        if scope["type"] != "http":
            return
        if self.served is not None:
            scope[SERVED] = self.served
        await send({"type": "http.response.start", "status": 200, "headers": list(self.headers)})
        await send({"type": "http.response.body", "body": b"app"})


@dataclass
class Sent:
    """What the layer sent for one request."""

    messages: list[Message]

    @property
    def status(self) -> int:
        status: int = self.messages[0]["status"]
        return status

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return list(self.messages[0]["headers"])

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)

    def values(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


@dataclass
class Edge:
    """A FastLeads on fakes, with the observer's outputs at hand."""

    service: FakeService = field(default_factory=FakeService)
    app: FakeApp = field(default_factory=FakeApp)
    forwards: bool = False
    cors: Cors | None = None
    out: io.StringIO = field(default_factory=io.StringIO)
    journal: Journal = field(default_factory=lambda: Journal(50))
    stats: Stats = field(default_factory=Stats)
    layer: FastLeads = field(init=False)

    def __post_init__(self) -> None:
        self.access = AccessLog(stream=self.out)
        observer = Observer(access=self.access, journal=self.journal, stats=self.stats)
        self.layer = FastLeads(
            self.app, self.service, observer=observer, forwards=self.forwards, cors=self.cors
        )

    def lines(self) -> list[str]:
        self.access.flush()
        return self.out.getvalue().splitlines()

    async def call(
        self,
        method: str,
        path: str,
        *headers: tuple[bytes, bytes],
        query: bytes = b"",
        disconnect: bool = False,
    ) -> Sent:
        """One request; with `disconnect`, the client hangs up after sending it."""
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            # A Host as every HTTP/1.1 client sends, unless the test sends its own.
            "headers": [*headers]
            if any(name == b"host" for name, _ in headers)
            else [(b"host", b"127.0.0.1:8000"), *headers],
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50123),
        }
        inbox: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
        if disconnect:
            inbox.append({"type": "http.disconnect"})
        sent: list[Message] = []

        async def receive() -> Message:
            if inbox:
                return inbox.pop(0)
            await asyncio.Event().wait()  # a client that stays: nothing more comes
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            sent.append(message)

        await self.layer(scope, receive, send)
        return Sent(sent)

    def run(
        self, method: str, path: str, *headers: tuple[bytes, bytes], query: bytes = b""
    ) -> Sent:
        return asyncio.run(self.call(method, path, *headers, query=query))


# --- the listing, answered here -------------------------------------------------


@pytest.mark.parametrize("path", sorted(LEADS_PATHS))
def test_listing__every_path_asks_the_hot_path_first(path: str) -> None:
    edge = Edge(FakeService(ready=READY))
    sent = edge.run("GET", path, AUTH)
    assert (sent.status, sent.body) == (200, BODY)
    assert [head.path for head in edge.service.heads] == [path]
    assert edge.service.incomings == []  # the full path was not taken
    assert edge.app.scopes == []  # nor was the app asked


@pytest.mark.parametrize(
    ("path", "asked"),
    [
        ("/api/user/leads", "/api/user/leads"),
        ("/api/user/leads/", "/api/user/leads"),
        ("/leads", "/leads"),
        ("/leads/", "/leads"),
    ],
    ids=["listing", "listing-slash", "alias", "alias-slash"],
)
def test_listing__not_ready_takes_the_full_path_without_the_trailing_slash(
    path: str, asked: str
) -> None:
    edge = Edge()
    sent = edge.run("GET", path, AUTH, query=b"status=new")
    assert (sent.status, json.loads(sent.body)) == (200, {"from": "answer"})
    assert len(edge.service.heads) == 1
    (incoming,) = edge.service.incomings
    assert (incoming.path, incoming.query, incoming.method) == (asked, b"status=new", "GET")
    assert incoming.head.authorization == AUTH[1]
    assert incoming.origin == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/user/leads"), ("DELETE", "/leads"), ("GET", "/api/user/leads/7")],
    ids=["post-listing", "delete-alias", "a-lead"],
)
def test_listing__other_methods_and_paths_go_to_the_app(method: str, path: str) -> None:
    edge = Edge(FakeService(ready=READY))
    sent = edge.run(method, path, AUTH)
    assert sent.body == b"app"
    assert edge.service.heads == []
    assert [scope["path"] for scope in edge.app.scopes] == [path]


def test_listing__a_head_has_the_gets_headers_no_body_and_is_logged_as_head() -> None:
    edge = Edge(FakeService(ready=READY))
    get, head = edge.run("GET", "/leads", AUTH), edge.run("HEAD", "/leads", AUTH)
    assert (head.status, head.headers) == (get.status, get.headers)
    assert head.header(b"content-length") == str(len(BODY)).encode()
    assert head.body == b""
    assert edge.service.heads[1].method == "HEAD"
    assert [entry["method"] for entry in edge.journal.entries()] == ["HEAD", "GET"]
    lines = edge.lines()
    assert lines[1].startswith("HEAD /leads 200 HIT")


def test_listing__the_full_paths_head_is_answered_without_a_body_too() -> None:
    edge = Edge()
    sent = edge.run("HEAD", "/api/user/leads/", AUTH)
    assert sent.status == 200
    assert sent.body == b""
    assert edge.service.incomings[0].method == "HEAD"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [(None, False), (b"gzip", True), (b"gzip, br", True), (b"br", False), (b"gzip;q=0", False)],
    ids=["none", "gzip", "browser", "br-only", "gzip-refused"],
)
def test_listing__the_form_accept_encoding_chooses(
    accept_encoding: bytes | None, gzipped: bool
) -> None:
    edge = Edge(FakeService(ready=READY))
    headers = [AUTH] if accept_encoding is None else [AUTH, (b"accept-encoding", accept_encoding)]
    sent = edge.run("GET", "/api/user/leads", *headers)
    assert sent.header(b"vary") == b"Accept-Encoding"
    if gzipped:
        assert sent.header(b"content-encoding") == b"gzip"
        assert gzip.decompress(sent.body) == BODY
        assert sent.header(b"etag") == b'"ready-gzip"'
    else:
        assert sent.header(b"content-encoding") is None
        assert sent.body == BODY
        assert sent.header(b"etag") == b'"ready"'
    assert sent.header(b"content-length") == str(len(sent.body)).encode()


def app_cors() -> Cors:
    cors = Cors.of([APP_ORIGIN.decode()], MOCK_METHODS)
    assert cors is not None
    return cors


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(APP_ORIGIN, True), (b"https://evil.test", False), (None, False)],
    ids=["allowed", "other-origin", "no-origin"],
)
def test_listing__cors_headers_for_an_allowed_origin_only(
    origin: bytes | None, allowed: bool
) -> None:
    edge = Edge(FakeService(ready=READY), cors=app_cors())
    headers = [AUTH] if origin is None else [AUTH, (b"origin", origin)]
    sent = edge.run("GET", "/api/user/leads", *headers, (b"accept-encoding", b"gzip"))
    assert gzip.decompress(sent.body) == BODY  # the client's form, CORS or not
    if allowed:
        assert sent.values(b"access-control-allow-origin") == [APP_ORIGIN]
        assert b"ETag" in (sent.header(b"access-control-expose-headers") or b"")
        assert b"Origin" in sent.values(b"vary")
    else:
        assert not any(name.startswith(b"access-control-") for name, _ in sent.headers)


def test_listing__a_passed_on_answers_own_cors_headers_give_way_to_ours() -> None:
    passed_on = Reply.message(
        401, {"message": "Unauthenticated."}, (b"access-control-allow-origin", b"*")
    )
    edge = Edge(FakeService(answered=Served(passed_on, "BYPASS")), cors=app_cors())
    sent = edge.run("GET", "/api/user/leads", (b"origin", APP_ORIGIN))
    assert sent.values(b"access-control-allow-origin") == [APP_ORIGIN]


def test_listing__an_error_in_the_service_is_a_json_500_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    edge = Edge(FakeService(error=RuntimeError("a bug")))
    with caplog.at_level(logging.ERROR, logger="leads_proxy"):
        sent = edge.run("GET", "/api/user/leads", AUTH)
    assert sent.status == 500
    assert sent.header(b"content-type") == b"application/json"
    assert json.loads(sent.body) == {"message": "Server Error"}
    assert "leads listing: unexpected error" in caplog.text
    assert "RuntimeError: a bug" in caplog.text
    assert [entry["status"] for entry in edge.journal.entries()] == [500]


def test_listing__cancelled_by_the_server_is_a_json_503_that_closes() -> None:
    edge = Edge(FakeService(error=asyncio.CancelledError()))
    sent = edge.run("GET", "/api/user/leads", AUTH)
    assert sent.status == 503
    assert sent.header(b"retry-after") == b"1"
    assert sent.header(b"connection") == b"close"
    assert "shutting down" in json.loads(sent.body)["message"]


def test_listing__a_delay_is_waited_before_the_answer_starts() -> None:
    slow = Served(Reply.json(200, b"[]").with_headers(delay=0.05))
    edge = Edge(FakeService(answered=slow))
    edge.run("GET", "/api/user/leads", AUTH)
    (entry,) = edge.journal.entries()
    assert entry["ms"] >= 50


def test_listing__the_record_of_each_answer_reaches_the_observer() -> None:
    edge = Edge()
    edge.run("GET", "/api/user/leads", AUTH)
    (entry,) = edge.journal.entries()
    assert (entry["cache"], entry["upstream_ms"], entry["status"]) == ("miss", 125.0, 200)
    assert (edge.stats.requests, edge.stats.misses) == (1, 1)
    assert edge.lines() == [f"GET /api/user/leads 200 MISS upstream=125.0ms key={entry['key']}"]


# --- a client that leaves --------------------------------------------------------


def test_proxy_mode__a_client_that_leaves_stops_its_answer() -> None:
    async def scenario() -> tuple[Edge, Sent]:
        edge = Edge(FakeService(gate=asyncio.Event()), forwards=True)
        sent = await asyncio.wait_for(
            edge.call("GET", "/api/user/leads", AUTH, disconnect=True), timeout=5
        )
        return edge, sent

    edge, sent = asyncio.run(scenario())
    assert sent.messages == []  # nobody to answer
    assert edge.service.cancelled  # the work stopped with it
    assert edge.journal.entries() == []
    assert edge.lines() == []


def test_proxy_mode__a_client_that_stays_gets_its_answer() -> None:
    async def scenario() -> Sent:
        gate = asyncio.Event()
        edge = Edge(FakeService(gate=gate), forwards=True)
        call = asyncio.ensure_future(edge.call("GET", "/api/user/leads", AUTH))
        await until(lambda: edge.service.incomings)  # the answer is under way
        gate.set()
        return await asyncio.wait_for(call, timeout=5)

    sent = asyncio.run(scenario())
    assert (sent.status, json.loads(sent.body)) == (200, {"from": "answer"})


def test_mock_mode__the_answer_is_not_watched_for_a_client_leaving() -> None:
    # No upstream budget to save: a mock answer is cheaper than watching for it.
    async def scenario() -> tuple[Edge, Sent]:
        gate = asyncio.Event()
        edge = Edge(FakeService(gate=gate))
        call = asyncio.ensure_future(edge.call("GET", "/api/user/leads", AUTH, disconnect=True))
        await until(lambda: edge.service.incomings)
        gate.set()
        return edge, await asyncio.wait_for(call, timeout=5)

    edge, sent = asyncio.run(scenario())
    assert sent.status == 200
    assert not edge.service.cancelled


# --- everything else, on to the app ------------------------------------------------


@pytest.mark.parametrize(
    ("forwards", "path", "seen"),
    [
        (False, "/_proxy/health/", "/_proxy/health"),
        (False, "/api/user/other/", "/api/user/other"),
        (False, "/", "/"),
        (False, "/docs", "/docs"),
        (True, "/api/user/other/", "/api/user/other/"),
        (True, "/_proxy/health/", "/_proxy/health"),
    ],
    ids=[
        "admin", "api-in-mock-mode", "root-stays", "no-slash", "forwarded-as-it-came",
        "admin-in-proxy-mode",
    ],
)  # fmt: skip
def test_other__a_trailing_slash_is_dropped_for_the_app_unless_forwarded(
    forwards: bool, path: str, seen: str
) -> None:
    edge = Edge(forwards=forwards)
    edge.run("GET", path)
    (scope,) = edge.app.scopes
    assert scope["path"] == seen
    assert scope["raw_path"] == seen.encode()


@pytest.mark.parametrize(
    ("forwards", "path", "method"),
    [(False, "/_proxy/health", "GET"), (True, "/_proxy/health", "GET"), (True, "/api/x", "HEAD")],
    ids=["mock-mode", "proxy-mode-admin", "proxy-mode-forwarded"],
)
def test_other__a_head_reaches_the_app_as_get_unless_forwarded_and_loses_its_body(
    forwards: bool, path: str, method: str
) -> None:
    edge = Edge(forwards=forwards)
    sent = edge.run("HEAD", path)
    assert [scope["method"] for scope in edge.app.scopes] == [method]
    assert (sent.status, sent.body) == (200, b"")
    assert f'"HEAD {path} HTTP/1.1" 200 OK' in edge.lines()[0]


def test_other__the_record_a_route_leaves_in_scope_reaches_the_observer() -> None:
    forwarded = Served(Reply.json(201, b"{}"), "BYPASS", 0.25, forwarded=True)
    edge = Edge(app=FakeApp(served=forwarded), forwards=True)
    edge.run("POST", "/api/user/lead", AUTH)
    (entry,) = edge.journal.entries()
    assert (entry["method"], entry["path"], entry["cache"]) == ("POST", "/api/user/lead", "bypass")
    assert entry["upstream_ms"] == 250.0
    assert entry["status"] == 200  # the status sent, not the record's
    assert (edge.stats.requests, edge.stats.forwarded) == (1, 1)
    assert edge.lines()[0].startswith("POST /api/user/lead 200 BYPASS upstream=250.0ms key=")


def test_other__without_a_record_only_the_access_line_is_written() -> None:
    edge = Edge()
    edge.run("GET", "/_proxy/health")
    assert edge.journal.entries() == []
    assert edge.stats.requests == 0
    assert edge.lines() == ['INFO:     127.0.0.1:50123 - "GET /_proxy/health HTTP/1.1" 200 OK']


def test_other__each_request_has_its_own_scope_for_the_record() -> None:
    edge = Edge(app=FakeApp(served=Served(Reply(200, ()), "BYPASS", forwarded=True)), forwards=True)
    edge.run("GET", "/api/user/a")
    edge.app.served = None
    edge.run("GET", "/api/user/b")
    assert [SERVED in scope for scope in edge.app.scopes] == [True, False]
    assert len(edge.journal.entries()) == 1


def test_other__an_allowed_origin_gets_our_cors_headers_in_place_of_the_apps() -> None:
    upstreams = ((b"content-type", b"text/plain"), (b"access-control-allow-origin", b"*"))
    edge = Edge(app=FakeApp(headers=upstreams), cors=app_cors())
    sent = edge.run("GET", "/api/user/other", (b"origin", APP_ORIGIN))
    assert sent.values(b"access-control-allow-origin") == [APP_ORIGIN]
    assert sent.header(b"vary") == b"Origin"
    assert sent.header(b"content-type") == b"text/plain"


@pytest.mark.parametrize("path", ["/api/user/leads", "/api/user/lead"])
def test_other__a_preflight_is_answered_without_reaching_the_app(path: str) -> None:
    edge = Edge(FakeService(ready=READY), cors=app_cors())
    sent = edge.run(
        "OPTIONS",
        path,
        (b"origin", APP_ORIGIN),
        (b"access-control-request-method", b"GET"),
        (b"access-control-request-headers", b"prefer, x-trace-id"),
    )
    assert (sent.status, sent.body) == (204, b"")
    assert sent.header(b"access-control-allow-origin") == APP_ORIGIN
    assert b"x-trace-id" in (sent.header(b"access-control-allow-headers") or b"")
    assert edge.app.scopes == []
    assert edge.service.heads == []
    assert f'"OPTIONS {path} HTTP/1.1" 204 No Content' in edge.lines()[0]


def test_other__the_views_answer_no_other_origin() -> None:
    edge = Edge(FakeService(ready=READY), cors=app_cors())
    asks = ((b"origin", APP_ORIGIN), (b"access-control-request-method", b"GET"))
    for method in ("OPTIONS", "GET"):
        sent = edge.run(method, "/_proxy/requests", *asks)
        assert sent.header(b"access-control-allow-origin") is None
    assert len(edge.app.scopes) == 2  # the app answers them, as any request of its own


def test_other__a_preflight_from_another_origin_is_a_403_without_reaching_the_app() -> None:
    edge = Edge(cors=app_cors())
    sent = edge.run(
        "OPTIONS", "/api/user/leads", (b"origin", b"https://evil.test"),
        (b"access-control-request-method", b"GET"),
    )  # fmt: skip
    assert sent.status == 403
    assert "https://evil.test" in json.loads(sent.body)["message"]
    assert edge.app.scopes == []


@pytest.mark.parametrize(
    ("cors", "headers"),
    [
        (None, [(b"origin", APP_ORIGIN), (b"access-control-request-method", b"GET")]),
        (app_cors(), [(b"origin", APP_ORIGIN)]),
        (app_cors(), [(b"access-control-request-method", b"GET")]),
    ],
    ids=["cors-off", "no-request-method", "no-origin"],
)
def test_other__an_options_that_is_no_preflight_goes_to_the_app(
    cors: Cors | None, headers: list[tuple[bytes, bytes]]
) -> None:
    edge = Edge(cors=cors)
    sent = edge.run("OPTIONS", "/api/user/leads", *headers)
    assert sent.body == b"app"
    assert len(edge.app.scopes) == 1


def test_other__lifespan_and_websocket_scopes_pass_through_untouched() -> None:
    edge = Edge()

    async def scenario() -> None:
        scope: Scope = {"type": "lifespan"}
        await edge.layer(scope, _never, _nowhere)
        assert edge.app.scopes == [scope]
        assert edge.app.scopes[0] is scope

    asyncio.run(scenario())
    assert edge.service.heads == []


async def _never() -> Message:
    raise AssertionError("not read")


async def _nowhere(message: Message) -> None:
    raise AssertionError("not sent")
