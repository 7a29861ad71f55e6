"""Bounds on a request's head, below the app: how many bytes, and how long.

uvicorn's httptools protocol reads a request's headers for as long and as far
as a client sends them: one connection streaming a 48 MiB header cost 50 MB
and 8 s of CPU, and a thousand half-sent requests held a thousand sockets.
`GuardedHttpTools` is that protocol with two bounds on each request's head
(request line and headers): `--max-header-bytes`, past which the client gets
431, and `--header-timeout` from its first byte, past which it gets 408;
either way the connection is closed, after a JSON body in the API's shape.
`configure` sets both, in the server process and in each worker.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_SECONDS = 2.0


def _refusal(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a request's head bounded in bytes and time."""

    max_head_bytes = 64 * 1024
    head_seconds = 10.0
    too_large = b""
    too_slow = b""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = True
        self._refused = False
        self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(
            self.head_seconds, self._refuse, self.too_slow
        )

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the close, so the answer is not reset away
        in_head = self._in_head
        if in_head and self._head_timer is None:  # the next request on a kept-alive connection
            self._head_timer = self.loop.call_later(self.head_seconds, self._refuse, self.too_slow)
        super().data_received(data)
        if in_head and self._in_head:  # all of it was head: count it (a body never is)
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(self.too_large)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, answer: bytes) -> None:
        """Answer, stop writing, and close a moment later (a lingering close, as nginx
        does): closing at once, with the client still sending, would reset the
        connection and could throw the answer away before the client reads it."""
        self._stop_timer()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def configure(max_head_bytes: int, head_seconds: float) -> None:
    """Set the bounds (and the answers that tell them) for every connection to come."""
    guarded = GuardedHttpTools
    guarded.max_head_bytes, guarded.head_seconds = max_head_bytes, head_seconds
    guarded.too_large = _refusal(
        431,
        "Request Header Fields Too Large",
        f"The request line and headers are over {max_head_bytes} bytes.",
    )
    guarded.too_slow = _refusal(
        408, "Request Timeout", f"The request line and headers took over {head_seconds:g} s."
    )


configure(GuardedHttpTools.max_head_bytes, GuardedHttpTools.head_seconds)
