"""The reference: a bare ASGI app under uvicorn that answers fixed bytes.

It does no routing, no auth check and no conditional requests: what it costs
per request is uvicorn's share, the floor any server on uvicorn stands on.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

BODY = Path(os.environ["BENCH_BODY"]).read_bytes()
# As a fake upstream for the proxy benchmark: seconds to wait before answering.
DELAY = float(os.environ.get("BENCH_DELAY", "0"))
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
    (b"etag", b'"reference"'),
]
# BENCH_HEADERS=hit: the headers of a leads-proxy cache hit too, so that both
# sides put the same response on the wire.
if os.environ.get("BENCH_HEADERS") == "hit":
    HEADERS += [
        (b"vary", b"Accept-Encoding"),  # a body of 1 KB or more is offered in gzip too
        (b"age", b"0"),
        (b"cache-status", b"leads-proxy; hit; ttl=3600"),
        (b"x-cache", b"HIT"),
    ]
# BENCH_HEADERS_FILE: exactly these headers (a JSON list of [name, value]), as a
# leads-proxy answer sends them, so that both sides put the same bytes on the wire.
if "BENCH_HEADERS_FILE" in os.environ:
    HEADERS = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in json.loads(Path(os.environ["BENCH_HEADERS_FILE"]).read_text())
    ]
Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if DELAY:
        await asyncio.sleep(DELAY)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
