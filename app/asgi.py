"""The thin ASGI layer in front of FastAPI for the one hot request.

An unfiltered `GET` of the leads listing with no scenario asked for is answered
here from ready bytes, before the framework builds a request object or routes
anything; every other request goes on to the wrapped app untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.service import MockService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LEADS_PATHS = frozenset({"/api/user/leads", "/leads"})


class FastLeads:
    """ASGI middleware: the default leads answer, served before routing."""

    def __init__(self, app: ASGIApp, service: MockService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in LEADS_PATHS
            or scope["method"] != "GET"
            or scope["query_string"]
        ):
            await self.app(scope, receive, send)
            return
        authorization = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"if-none-match":
                if_none_match = value
            elif name == b"prefer":
                await self.app(scope, receive, send)
                return
        reply = self.service.default_reply(authorization, if_none_match)
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": reply.headers}
        )
        await send({"type": "http.response.body", "body": reply.body})
