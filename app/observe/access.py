"""Access lines, buffered off the request path as nginx's `access_log buffer= flush=`.

A request appends its line to a list, which costs about what building the
line costs; the lines are written in one `write` when the buffer is full, at
least every `flush_every` seconds while the server runs, and at exit. The
lines are the ones the logging module would write, in the same order.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import sys
import time
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TextIO

from .shown import escaped, mask_phones, shown_client, shown_query

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
        json_lines: bool = False,
    ) -> None:
        self._stream = stream
        self.json_lines = json_lines  # --log-format json: one JSON object a line
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


def json_line(
    *,
    method: str,
    path: str,
    query: str,
    status: int,
    cache: str | None,
    key: str | None,
    upstream: float | None,
    took: float,
    client: str | None,
) -> str:
    """An access line as log shippers read it: the fields of `--log-format json`."""
    return json.dumps(
        {
            "ts": _now(),
            "level": "info",
            "event": "request",
            "method": method,
            "path": path,
            "query": query,
            "status": status,
            "cache": cache,
            "key": key,
            "upstream_ms": None if upstream is None else round(upstream * 1000, 1),
            "ms": round(took * 1000, 2),
            "client": client,
        },
        separators=(",", ":"),
    )


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """Every other log line as one JSON object: ts, level, event, logger (and the error)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _now(),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"))


STATUS_PHRASES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def uvicorn_line(
    scope: Mapping[str, Any], method: str, path: str, query: bytes, status: int
) -> str:
    """The line uvicorn's access log writes for a request, with its default format; phone
    numbers masked, and nothing in it a terminal acts on or that ends the quoted field
    (uvicorn writes the query and a forwarded client as they came)."""
    client = scope.get("client")
    address = f"{shown_client(client[0])}:{client[1]}" if client else ""
    target = urllib.parse.quote(mask_phones(path), safe="/+*")  # a masked number reads as one
    if query:
        target += "?" + escaped(shown_query(query))
    phrase = STATUS_PHRASES.get(status) or f"{status} "
    version = scope.get("http_version", "1.1")
    return f'INFO:     {address} - "{escaped(method)} {target} HTTP/{version}" {phrase}'
