"""The whole answers the connection guard (`guard`) writes below the app, and the
read that empties a socket before a refused connection is closed."""

from __future__ import annotations

import contextlib
import functools
import json
import os
from typing import Any

RETRY_AFTER = 1  # seconds, in the 503s of a busy server


def refusal(status: int, reason: str, message: str, *, retry_after: int | None = None) -> bytes:
    """A whole answer that ends the connection: its head, and a body {"message": ...}."""
    body = json.dumps({"message": message}).encode()
    retry = f"retry-after: {retry_after}\r\n" if retry_after is not None else ""
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n{retry}"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


@functools.cache
def busy(limit: int) -> bytes:
    """The 503 of `--limit-concurrency`, in the API's shape (uvicorn's is text)."""
    return refusal(
        503,
        "Service Unavailable",
        f"The server is busy: it is at its limit of {limit} connections and requests at "
        "once; send the request again.",
        retry_after=RETRY_AFTER,
    )


def too_large(bound: int) -> bytes:
    return refusal(
        431,
        "Request Header Fields Too Large",
        f"The request line and headers are over {bound} bytes.",
    )


def too_framed(bound: int) -> bytes:
    """A chunked body whose framing and trailers (all but its data) pass the head's bound."""
    return refusal(
        431,
        "Request Header Fields Too Large",
        f"The chunked body's framing and trailers are over {bound} bytes.",
    )


def too_slow(seconds: float) -> bytes:
    return refusal(408, "Request Timeout", f"The request line and headers took over {seconds:g} s.")


def full(room: int | None) -> bytes:
    return refusal(
        503,
        "Service Unavailable",
        f"The server is busy: it holds as many connections as it can ({room}); "
        "send the request again.",
        retry_after=RETRY_AFTER,
    )


def drain(sock: Any) -> None:
    """Read and drop what a socket holds unread (at most 64 KiB), without blocking."""
    with contextlib.suppress(OSError, AttributeError):
        os.read(sock.fileno(), 65536)
