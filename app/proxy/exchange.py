"""What passes between leads-proxy and the upstream, free of the HTTP client.

An `Answer` is what the upstream said; a failed request is one of:

    UpstreamError                 the upstream gave no usable answer
     +-- UpstreamTimeout          no answer within the timeout        (-> 504)
     +-- UpstreamUnavailable      refused, reset, or a broken answer  (-> 502)
     +-- UpstreamBadStatus        a 5xx                               (-> 502)
     +-- UpstreamGarbage          a 200 whose body is not JSON        (-> 502)

A 4xx is not an error here: it is an answer, passed through as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..http.request import Incoming
from .cache import PRIVATE

# The server (uvicorn) writes its own Date and Server on every answer; the
# upstream's would make a second of each. Ours are kept, as nginx keeps its own:
# Date is when this answer left, and Server names the server the client talks to.
SERVER_OWN = frozenset({"date", "server"})
# Never forwarded in either direction (RFC 9110 section 7.6.1), plus the
# headers httpx sets itself from the body it sends or has decoded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


class UpstreamError(Exception):
    """The upstream gave no usable answer; `kind` names how, for stats and logs."""

    kind = "error"
    status = 502

    def __init__(self, message: str, *, upstream_status: int | None = None) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


class UpstreamTimeout(UpstreamError):
    kind = "timeout"
    status = 504


class UpstreamUnavailable(UpstreamError):
    kind = "unavailable"


class UpstreamBadStatus(UpstreamError):
    kind = "status_5xx"


class UpstreamGarbage(UpstreamError):
    kind = "garbage"


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer from the upstream, body fully read."""

    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes
    elapsed: float  # seconds
    encoded: bool = False  # the body is still in the upstream's Content-Encoding

    def header(self, name: str) -> str | None:
        """The first value of a header, by its lower-case name."""
        return next((value for key, value in self.headers if key.lower() == name), None)


def forwardable(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers that may cross the proxy: no hop-by-hop ones."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [
        (n, v)
        for n, v in headers
        if n.lower() not in HOP_BY_HOP and n.lower() not in named and n.lower() not in SERVER_OWN
    ]


def fill_headers(incoming: Incoming) -> dict[str, str]:
    """The headers a fill sends upstream for this request (the query is the key's)."""
    return {
        "Authorization": (incoming.head.authorization or b"").decode("latin-1"),
        "Accept": (incoming.header(b"accept") or b"application/json").decode("latin-1"),
    }


_HEADER_VALUE = re.compile(rb"[\x20-\x7e]{1,512}")


def cache_control_of(answer: Answer) -> bytes:
    """The upstream's Cache-Control for a cached answer, every line of it; PRIVATE when
    it sent none or one that is not printable text. An answer is one key's: when the
    upstream says neither private nor no-store, `private` is put first, so that no
    shared cache in front (which sees no Vary: Authorization) gives it to another key."""
    said = ", ".join(value for name, value in answer.headers if name.lower() == "cache-control")
    value = said.encode("latin-1", "replace")
    if not _HEADER_VALUE.fullmatch(value):
        return PRIVATE
    directives = {part.strip().split("=", 1)[0].lower() for part in said.split(",")}
    return value if directives & {"private", "no-store"} else b"private, " + value
