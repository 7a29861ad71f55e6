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
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.access import AccessLog, uvicorn_line
from app.reply import Incoming, LeadsService, Reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LEADS_PATHS = frozenset({"/api/user/leads", "/leads"})
SERVER_ERROR = Reply.message(500, {"message": "Server Error"})  # Laravel's words
SHUTTING_DOWN = Reply.message(
    503,
    {"message": "The server is shutting down; send the request again."},
    (b"retry-after", b"1"),
    (b"connection", b"close"),
)
log = logging.getLogger("leads_proxy")


class FastLeads:
    """ASGI middleware: the leads listing, answered before routing."""

    def __init__(
        self,
        app: ASGIApp,
        service: LeadsService,
        *,
        access: AccessLog | None = None,
        give_up_when_gone: bool = False,
    ) -> None:
        self.app = app
        self.service = service
        self.access = access
        # Proxy mode: a request whose client left stops waiting (for its upstream
        # slot, say) instead of spending the budget on an answer nobody reads.
        self.give_up_when_gone = give_up_when_gone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] not in LEADS_PATHS:
            if self.access is None or scope["type"] != "http":
                await self.app(scope, receive, send)
            else:
                await self._logged(scope, receive, send, self.access)
            return
        try:
            reply = self.service.hot_reply(scope["query_string"], scope["headers"])
            if reply is None:
                incoming = Incoming.from_scope(scope)
                if not self.give_up_when_gone:
                    reply = await self.service.answer(incoming)
                elif (reply := await self._while_connected(incoming, receive)) is None:
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
        start = {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        await send(start)
        await send({"type": "http.response.body", "body": reply.body})
        if self.access is not None:
            self.access.line(uvicorn_line(scope, reply.status))

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

    async def _logged(self, scope: Scope, receive: Receive, send: Send, access: AccessLog) -> None:
        """The wrapped app, with the access line of what it answered."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                access.line(uvicorn_line(scope, message["status"]))
            await send(message)

        await self.app(scope, receive, sending)


async def _disconnect(receive: Receive) -> None:
    """Return when the client has gone (a GET's empty body read first)."""
    while (await receive())["type"] != "http.disconnect":
        pass
