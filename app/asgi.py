"""The thin ASGI layer in front of FastAPI for the leads listing.

A `GET` of the leads listing is answered here, before the framework builds a
request object or routes anything: a ready answer (mock: the unfiltered
default; proxy: a fresh cache hit) straight from its bytes, anything else by
the same `service.answer` call the FastAPI route makes. Everything else goes
on to the wrapped app untouched. Without this layer (`create_app` alone) the
app answers the same, only with FastAPI's cost per request.

With `access` (mock mode), this layer also writes uvicorn's access line for
every request, into a buffer rather than through the logging module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from time import perf_counter
from typing import Any

from app.access import AccessLog, json_line, uvicorn_line
from app.cache import bearer_token
from app.cors import Cors, origin_of, without_cors
from app.history import MOCK, History
from app.journal import Journal, mask_phones
from app.recordings import key_fingerprint
from app.reply import Headers, Incoming, LeadsService, Reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LISTING = "/api/user/leads"
LEADS_PATHS = frozenset({LISTING, "/leads", "/api/user/leads/", "/leads/"})
SERVER_ERROR = Reply.message(500, {"message": "Server Error"})  # Laravel's words
SHUTTING_DOWN = Reply.message(
    503,
    {"message": "The server is shutting down; send the request again."},
    (b"retry-after", b"1"),
    (b"connection", b"close"),
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
        access: AccessLog | None = None,
        give_up_when_gone: bool = False,
        cors: Cors | None = None,
        journal: Journal | None = None,
        history: History | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.access = access
        # Proxy mode: a request whose client left stops waiting (for its upstream
        # slot, say) instead of spending the budget on an answer nobody reads.
        # Its other /api/ paths are forwarded as they are.
        self.give_up_when_gone = self.forwards = give_up_when_gone
        self.cors = cors
        self.journal = journal
        self.history = history  # mock mode's answers (proxy modes count theirs in the service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if scope["path"] not in LEADS_PATHS or (method != "GET" and method != "HEAD"):  # noqa: PLR1714
            await self._other(scope, receive, send)
            return
        started = perf_counter()
        try:
            reply = None
            if scope["path"] == LISTING:
                reply = self.service.hot_reply(scope["query_string"], scope["headers"])
            if reply is None:
                reply = await self._answer(scope, receive)
                if reply is None:
                    return  # the client left: nobody to answer
            if reply.delay:
                await asyncio.sleep(reply.delay)
        except Exception:  # a bug must still answer in the API's shape, never text/plain
            log.exception("leads listing: unexpected error")
            reply = SERVER_ERROR
        except asyncio.CancelledError:
            # Only uvicorn cancels a request: the server is stopping and the grace
            # period is over. Say so in the API's shape (uvicorn would send a
            # text/plain 500 and log a traceback), and end the request.
            reply = SHUTTING_DOWN
        upstream = reply.upstream
        if self.history is not None:
            self.history.answered_at(started, MOCK)
        if reply.gzipped is not None or self.cors is not None:
            reply = self._for_client(scope["headers"], reply)
        if self.journal is not None:  # before sending: whoever got the answer finds the entry
            took = perf_counter() - started
            self.journal.note(scope, reply.status, reply.headers, started, took, upstream)
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else reply.body})
        if self.access is not None:
            self.access.line(_access_line(self.access, scope, reply, upstream, started))

    def _for_client(self, headers: Sequence[tuple[bytes, bytes]], reply: Reply) -> Reply:
        """The form Accept-Encoding prefers, with CORS headers for an allowed Origin."""
        origin = accept_encoding = None  # one pass over the headers for both
        for name, value in headers:
            if name == b"origin":
                origin = value
            elif name == b"accept-encoding":
                accept_encoding = value
        if accept_encoding is not None and reply.gzipped is not None:
            reply = reply.for_client(accept_encoding)
        cors = self.cors
        if cors is not None and origin is not None and cors.allows(origin):
            return Reply(reply.status, reply.headers + cors.headers(origin), reply.body)
        return reply

    async def _answer(self, scope: Scope, receive: Receive) -> Reply | None:
        """The full path: the service's answer (None if the client left first)."""
        if scope["path"].endswith("/"):
            scope = {**scope, "path": scope["path"].rstrip("/")}
        incoming = Incoming.from_scope(scope)
        if not self.give_up_when_gone:
            return await self.service.answer(incoming)
        return await self._while_connected(incoming, receive)

    async def _send(self, scope: Scope, send: Send, reply: Reply) -> None:
        start = {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        await send(start)
        body = b"" if scope["method"] == "HEAD" else reply.body
        await send({"type": "http.response.body", "body": body})
        if self.access is not None:
            self.access.line(uvicorn_line(scope, reply.status))

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Everything but the listing: on to the app, with the edges above."""
        extra: Headers = ()
        if self.cors is not None and (origin := origin_of(scope["headers"])) is not None:
            if scope["method"] == "OPTIONS" and _asks_preflight(scope["headers"]):
                requested = header_of(scope["headers"], b"access-control-request-headers")
                await self._send(scope, send, self.cors.preflight(origin, requested))
                return
            if self.cors.allows(origin):
                extra = self.cors.headers(origin)
        path: str = scope["path"]
        head = False
        if not (self.forwards and path.startswith("/api/")):
            if len(path) > 1 and path.endswith("/"):
                raw = scope.get("raw_path") or path.encode()
                scope = {**scope, "path": path.rstrip("/") or "/", "raw_path": raw.rstrip(b"/")}
            if head := scope["method"] == "HEAD":
                scope = {**scope, "method": "GET"}
        journal = self.journal if self.forwards and path.startswith("/api/") else None
        if not (head or extra or self.access is not None or journal is not None):
            await self.app(scope, receive, send)
            return
        access, logged = self.access, {**scope, "method": "HEAD"} if head else scope
        started = perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if extra:
                    headers = without_cors(message.get("headers", ()))
                    message = {**message, "headers": [*headers, *extra]}
                if access is not None and access.json_lines:
                    took = perf_counter() - started
                    access.line(_json_line(logged, message["status"], None, None, took))
                elif access is not None:
                    access.line(uvicorn_line(logged, message["status"]))
                if journal is not None:  # a pass-through: its time is the upstream's
                    status, answered = message["status"], tuple(message.get("headers", ()))
                    took = perf_counter() - started  # a pass-through: all of it upstream
                    journal.note(scope, status, answered, started, took, took)
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, sending)

    async def _while_connected(self, incoming: Incoming, receive: Receive) -> Reply | None:
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


def _asks_preflight(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    return header_of(headers, b"access-control-request-method") is not None


def _access_line(
    access: AccessLog, scope: Scope, reply: Reply, upstream: float | None, started: float
) -> str:
    """The listing's access line: uvicorn's text, or a JSON object (--log-format json)."""
    if not access.json_lines:
        return uvicorn_line(scope, reply.status)
    label = header_of(reply.headers, b"x-cache") or header_of(reply.headers, b"x-mock-source")
    cache = label.decode().lower() if label else None
    return _json_line(scope, reply.status, cache, upstream, perf_counter() - started)


def _json_line(
    scope: Scope, status: int, cache: str | None, upstream: float | None, took: float
) -> str:
    client = scope.get("client")
    token = bearer_token(header_of(scope["headers"], b"authorization"))
    return json_line(
        method=scope["method"],
        path=scope["path"],
        query=mask_phones(scope["query_string"].decode("latin-1")),
        status=status,
        cache=cache,
        key=key_fingerprint(token) if token else None,
        upstream=upstream,
        took=took,
        client=f"{client[0]}:{client[1]}" if client else None,
    )


def header_of(headers: Sequence[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


async def _disconnect(receive: Receive) -> None:
    """Return when the client has gone (a GET's empty body read first)."""
    while (await receive())["type"] != "http.disconnect":
        pass
