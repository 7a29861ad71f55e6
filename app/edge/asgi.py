"""The thin ASGI layer in front of FastAPI: the leads listing, and the HTTP edges.

A request's head is read once (`http.request.Head`). A `GET` or `HEAD` of the
leads listing (`/api/user/leads`, `/leads`, with or without a trailing slash)
is answered here, before the framework builds a request object or routes
anything: a ready answer (mock: a listing answered before; proxy: a fresh
cache hit) straight from its bytes, anything else by the same `service.answer`
call the FastAPI route makes. Everything else goes on to the wrapped app.
Every answer, from here or from the app, is handed to the observer once.
Without this layer (`create_app` alone) the app answers the same, only with
FastAPI's cost per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import Any

from ..http.reply import Headers, Reply
from ..http.request import SCHEMES, Head, Incoming, RawHeaders, scheme_of
from ..http.service import LeadsService, Served
from ..observe.observer import Observer
from .cors import Cors, without_cors
from .hosts import AllowedHosts

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LISTING = "/api/user/leads"
OWN = "/_proxy"  # leads-proxy's own views: never open to other origins (CORS)
LEADS_PATHS = frozenset({LISTING, "/leads", "/api/user/leads/", "/leads/"})
# Where a route of the app leaves the record of what it served, for the observer.
SERVED = "leads_proxy.served"
SERVER_ERROR = Served(Reply.message(500, {"message": "Server Error"}))  # Laravel's words
SHUTTING_DOWN = Served(
    Reply.message(
        503,
        {"message": "The server is shutting down; send the request again."},
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    )
)
log = logging.getLogger("leads_proxy")


class FastLeads:
    """ASGI middleware: the leads listing answered before routing, and the HTTP edges.

    Also here, for every path: CORS (preflights answered, headers added for an
    allowed origin), `HEAD` answered as `GET` without the body, and a trailing
    slash dropped as Laravel does; except on the paths proxy mode forwards
    (`/api/...` other than the listing), which go upstream as they came.
    """

    def __init__(
        self,
        app: ASGIApp,
        service: LeadsService,
        *,
        observer: Observer,
        forwards: bool = False,
        cors: Cors | None = None,
        hosts: AllowedHosts | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.observer = observer
        # Proxy mode: its other /api/ paths are forwarded as they are, and a request
        # whose client left stops waiting (for its upstream slot, say) instead of
        # spending the budget on an answer nobody reads.
        self.forwards = forwards
        self.cors = cors
        self.hosts = AllowedHosts(()) if hosts is None else hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, scheme = scope["method"], scope.get("scheme", "http")
        if scheme not in SCHEMES:  # ws or wss, from a trusted proxy's X-Forwarded-Proto
            scheme = scheme_of(scope)
        head = Head.read(method, scope["path"], scope["query_string"], scope["headers"], scheme)
        # Before anything else runs: a Host this server answered for before is one set
        # lookup; any other is checked (and refused, or remembered).
        if head.host not in self.hosts.allowed:
            refused = self.hosts.refusal(head.host, scope["http_version"])
            if refused is not None:
                await self._send(scope, head, send, refused, perf_counter())
                return
        if head.path not in LEADS_PATHS or (method != "GET" and method != "HEAD"):  # noqa: PLR1714
            await self._other(scope, head, receive, send)
            return
        started = perf_counter()
        try:
            served = self.service.hot(head)
            if served is None:
                served = await self._answer(scope, head, receive)
                if served is None:
                    return  # the client left: nobody to answer
            if served.reply.delay:
                await asyncio.sleep(served.reply.delay)
        except Exception:  # a bug must still answer in the API's shape, never text/plain
            log.exception("leads listing: unexpected error")
            served = SERVER_ERROR
        except asyncio.CancelledError:
            # Only uvicorn cancels a request: the server is stopping and the grace
            # period is over. Say so in the API's shape (uvicorn would send a
            # text/plain 500 and log a traceback), and end the request.
            served = SHUTTING_DOWN
        reply = self._for_client(head, served.reply)
        self.observe(scope, head, served, reply, started)
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else reply.body})

    def ready(self, head: Head) -> tuple[Served, Reply, float] | None:
        """A GET or HEAD of the listing answered from ready bytes (`service.hot`), as the
        client gets it, with the time it came; None where it takes the full path (see
        `edge.ready`, which writes it without an ASGI cycle: then `observe` it)."""
        if head.host not in self.hosts.allowed:
            return None
        started = perf_counter()
        try:
            served = self.service.hot(head)
        except Exception:  # the full path answers it, and says why
            return None
        if served is None or served.reply.delay:
            return None
        return served, self._for_client(head, served.reply), started

    def observe(
        self, scope: Scope, head: Head, served: Served, reply: Reply, started: float
    ) -> None:
        """Before sending: whoever got the answer finds it in the journal."""
        self.observer.listing(scope, head, reply.status, served, started)

    def _for_client(self, head: Head, reply: Reply) -> Reply:
        """The form Accept-Encoding prefers, with CORS headers for an allowed Origin."""
        if self.cors is None and (reply.gzipped is None or not head.accept_encoding):
            return reply
        if head.accept_encoding is not None and reply.gzipped is not None:
            reply = reply.for_client(head.accept_encoding)
        cors, origin = self.cors, head.origin
        if cors is not None and origin is not None and cors.allows(origin):
            # An answer passed on from the upstream may carry CORS headers of its own: ours win.
            headers = (*without_cors(reply.headers), *cors.headers(origin))
            return Reply(reply.status, headers, reply.body)
        return reply

    async def _answer(self, scope: Scope, head: Head, receive: Receive) -> Served | None:
        """The full path: the service's answer (None if the client left first)."""
        if head.path.endswith("/"):
            head = head._replace(path=head.path.rstrip("/"))
        incoming = Incoming.from_scope(scope, head=head)
        if not self.forwards:
            return await self.service.answer(incoming)
        return await self._while_connected(incoming, receive)

    async def _other(self, scope: Scope, head: Head, receive: Receive, send: Send) -> None:
        """Everything but the listing: on to the app, with the edges above."""
        started = perf_counter()
        extra: Headers = ()
        if self.cors is not None and head.origin is not None and not head.path.startswith(OWN):
            if head.method == "OPTIONS" and _asks_preflight(scope):
                reply = self.cors.preflight(head.origin, _requested_headers(scope))
                await self._send(scope, head, send, reply, started)
                return
            if self.cors.allows(head.origin):
                extra = self.cors.headers(head.origin)
        routed = scope = self._routed(scope, head)
        observer, strip_body = self.observer, head.method == "HEAD"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if extra:
                    headers = without_cors(message.get("headers", ()))
                    message = {**message, "headers": [*headers, *extra]}
                observer.saw(routed, head, message["status"], routed.get(SERVED), started)
            elif strip_body and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, sending)

    def _routed(self, scope: Scope, head: Head) -> Scope:
        """The scope the app sees: Laravel's paths (no trailing slash), HEAD as GET;
        proxy mode's other /api/ paths as they came."""
        path = head.path
        if self.forwards and path.startswith("/api/"):
            return {**scope}  # our own, to carry the record of what was forwarded
        changes: dict[str, Any] = {}
        if len(path) > 1 and path.endswith("/"):
            raw = scope.get("raw_path") or path.encode()
            changes = {"path": path.rstrip("/") or "/", "raw_path": raw.rstrip(b"/")}
        if head.method == "HEAD":
            changes["method"] = "GET"
        return {**scope, **changes}

    async def _send(
        self, scope: Scope, head: Head, send: Send, reply: Reply, started: float
    ) -> None:
        self.observer.saw(scope, head, reply.status, None, started)
        start = {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        await send(start)
        body = b"" if head.method == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body})

    async def _while_connected(self, incoming: Incoming, receive: Receive) -> Served | None:
        """The service's answer, or None if the client hangs up first (the work is cancelled)."""
        answering = asyncio.ensure_future(self.service.answer(incoming))
        leaving = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait({answering, leaving}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server is stopping: stop both, then say so
            answering.cancel()
            leaving.cancel()
            raise
        if answering.done():
            leaving.cancel()
            return answering.result()
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answering
        return None


def _asks_preflight(scope: Scope) -> bool:
    return header_of(scope["headers"], b"access-control-request-method") is not None


def _requested_headers(scope: Scope) -> bytes | None:
    return header_of(scope["headers"], b"access-control-request-headers")


def header_of(headers: RawHeaders, wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


async def _disconnect(receive: Receive) -> None:
    """Return when the client has gone (a GET's empty body read first)."""
    while (await receive())["type"] != "http.disconnect":
        pass
