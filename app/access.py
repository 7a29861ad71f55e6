"""Access lines, buffered off the request path as nginx's `access_log buffer= flush=`.

A request appends its line to a list, which costs about what building the
line costs; the lines are written in one `write` when the buffer is full, at
least every `flush_every` seconds while the server runs, and at exit. The
lines are the ones the logging module would write, in the same order.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TextIO

FLUSH_EVERY = 1.0  # seconds
MAX_LINES = 256  # written at once when this many are waiting


class AccessLog:
    """A buffer of access lines for one process."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        flush_every: float = FLUSH_EVERY,
        max_lines: int = MAX_LINES,
    ) -> None:
        self._stream = stream
        self.flush_every = flush_every
        self._max_lines = max_lines
        self._lines: list[str] = []
        atexit.register(self.flush)  # a server killed mid-second still writes what it served

    def line(self, text: str) -> None:
        lines = self._lines
        lines.append(text)
        if len(lines) >= self._max_lines:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        stream = self._stream or sys.stdout  # looked up late: tests and uvicorn swap it
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # stdout closed or gone: nothing to tell it to
            pass

    async def run(self) -> None:
        """Flush every `flush_every` seconds, for as long as the server runs."""
        try:
            while True:
                await asyncio.sleep(self.flush_every)
                self.flush()
        finally:
            self.flush()


STATUS_PHRASES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def uvicorn_line(scope: Mapping[str, Any], status: int) -> str:
    """The line uvicorn's access log writes for a request, with its default format."""
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else ""
    path = urllib.parse.quote(scope["path"])
    if scope["query_string"]:
        path += "?" + scope["query_string"].decode("ascii", "replace")
    phrase = STATUS_PHRASES.get(status) or f"{status} "
    version = scope.get("http_version", "1.1")
    return f'INFO:     {address} - "{scope["method"]} {path} HTTP/{version}" {phrase}'
