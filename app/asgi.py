"""The thin ASGI layer in front of FastAPI for the hot requests.

A `GET` of the leads listing whose answer is ready (mock: the unfiltered
default; proxy: a fresh cache hit) is answered here from ready bytes, before
the framework builds a request object or routes anything. Everything else
goes on to the wrapped app untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.reply import LeadsService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LEADS_PATHS = frozenset({"/api/user/leads", "/leads"})


class FastLeads:
    """ASGI middleware: ready leads answers, served before routing."""

    def __init__(self, app: ASGIApp, service: LeadsService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in LEADS_PATHS:
            reply = self.service.hot_reply(scope["query_string"], scope["headers"])
            if reply is not None:
                start = {"type": "http.response.start", "status": reply.status}
                start["headers"] = reply.headers
                await send(start)
                await send({"type": "http.response.body", "body": reply.body})
                return
        await self.app(scope, receive, send)
