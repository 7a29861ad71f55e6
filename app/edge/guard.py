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

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import defaults

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

    max_head_bytes = defaults.MAX_HEADER_BYTES
    head_seconds = defaults.HEADER_TIMEOUT
    too_large = b""
    too_slow = b""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._refused = False
        # When the current head's first byte came (None: no head pending). One
        # check per connection every `head_seconds`, not a timer per request,
        # and no hook of the parser's: this runs on every request.
        self._head_since: float | None = self.loop.time()
        self._checker = self.loop.call_later(self.head_seconds, self._check_head)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped until the close, so the answer is not reset away
        before = self.cycle
        body_expected = before is not None and before.more_body
        super().data_received(data)
        if self.cycle is not before:  # a head completed here: the bounds start again
            self._head_since = None
            self._head_bytes = 0
        elif not body_expected:  # no request body was being read: all of it was head
            if self._head_since is None:
                self._head_since = self.loop.time()
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                self._refuse(self.too_large)

    def connection_lost(self, exc: Exception | None) -> None:
        self._checker.cancel()
        super().connection_lost(exc)

    def _check_head(self) -> None:
        since = self._head_since
        now = self.loop.time()
        if since is not None and now - since >= self.head_seconds:
            self._refuse(self.too_slow)
            return
        due = since + self.head_seconds if since is not None else now + self.head_seconds
        self._checker = self.loop.call_at(due, self._check_head)

    def _refuse(self, answer: bytes) -> None:
        """Answer, stop writing, and close a moment later (a lingering close, as nginx
        does): closing at once, with the client still sending, would reset the
        connection and could throw the answer away before the client reads it."""
        self._checker.cancel()
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
