"""A request as the services see it: its head read once, and the rest raw.

`Head` is what one pass over a request's headers finds: the few headers that
decide an answer (Authorization, If-None-Match, Accept-Encoding, Origin, Host,
Prefer, Cache-Control). The edge reads it once per request and passes it down;
nothing below scans the headers for those again. `Incoming` is a request on
the full path: its head, body and the origin the client named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

RawHeaders = Sequence[tuple[bytes, bytes]]

# The headers a Head holds: one set lookup per header sent, then the chain below.
_WANTED = frozenset(
    {b"authorization", b"if-none-match", b"accept-encoding", b"origin", b"host", b"prefer",
     b"cache-control"}
)  # fmt: skip
_new = tuple.__new__
# The Host of a request that sent two: names no host (RFC 9112 3.2: a 400).
TWO_HOSTS = b"two Host headers"
SCHEMES = frozenset({"http", "https"})
_WEBSCHEMES = {"ws": "http", "wss": "https"}


class Head(NamedTuple):
    """One pass over a request's head; each header its first value (None: not sent)."""

    method: str
    path: str
    query: bytes  # raw, still percent-encoded
    headers: RawHeaders  # raw, names in lower case
    authorization: bytes | None
    if_none_match: bytes | None
    accept_encoding: bytes | None
    origin: bytes | None
    host: bytes | None  # TWO_HOSTS when two came
    prefer: bytes | None
    cache_control: bytes | None
    authorizations: int  # how many Authorization headers came (more than one is refused)
    scheme: str = "http"  # as the server saw it (behind a trusted proxy: as it says)

    @classmethod
    def read(
        cls, method: str, path: str, query: bytes, headers: RawHeaders, scheme: str = "http"
    ) -> Head:
        """One pass over `headers` (on every request: kept to a set lookup per header)."""
        authorization = if_none_match = accept_encoding = origin = host = None
        prefer = cache_control = None
        authorizations = 0
        for name, value in headers:
            if name in _WANTED:
                if name == b"authorization":
                    authorizations += 1
                    if authorization is None:
                        authorization = value
                elif name == b"host":
                    host = value if host is None else TWO_HOSTS
                elif name == b"accept-encoding":
                    accept_encoding = accept_encoding or value
                elif name == b"if-none-match":
                    if_none_match = if_none_match or value
                elif name == b"origin":
                    origin = origin or value
                elif name == b"prefer":
                    prefer = prefer or value
                else:
                    cache_control = cache_control or value
        return _new(
            cls,
            (method, path, query, headers, authorization, if_none_match, accept_encoding, origin,
             host, prefer, cache_control, authorizations, scheme),
        )  # fmt: skip

    @classmethod
    def of(cls, scope: Mapping[str, Any]) -> Head:
        """The head of an ASGI HTTP scope."""
        return cls.read(
            scope["method"],
            scope["path"],
            scope["query_string"],
            scope["headers"],
            scheme_of(scope),
        )


def scheme_of(scope: Mapping[str, Any]) -> str:
    """http or https: a trusted proxy's X-Forwarded-Proto may say ws or wss (uvicorn
    takes them), and an HTTP request's page URLs are then http or https."""
    scheme: str = scope.get("scheme", "http")
    return scheme if scheme in SCHEMES else _WEBSCHEMES.get(scheme, "http")


def _read(incoming: Incoming) -> Head:
    scheme = incoming.origin.partition("://")[0] or "http"
    return Head.read(incoming.method, incoming.path, incoming.query, incoming.headers, scheme)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A request on the full path: method, path, raw query and headers, body, origin."""

    method: str = "GET"
    path: str = "/api/user/leads"
    query: bytes = b""  # raw, still percent-encoded
    headers: RawHeaders = ()  # raw, names in lower case
    body: bytes = b""
    origin: str = "http://127.0.0.1:8000"  # scheme://host[:port] the client used
    raw_path: bytes = b""  # the path as the client sent it, still percent-encoded
    # The headers that decide an answer, read once (from `headers` when not given).
    head: Head = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.head is None or self.head.headers is not self.headers:
            object.__setattr__(self, "head", _read(self))

    def header(self, name: bytes) -> bytes | None:
        """A header the head does not hold (Accept, say): its first value."""
        return next((value for key, value in self.headers if key == name), None)

    def header_values(self, name: bytes) -> list[str]:
        return [value.decode("latin-1") for key, value in self.headers if key == name]

    @classmethod
    def from_scope(
        cls, scope: Mapping[str, Any], body: bytes = b"", head: Head | None = None
    ) -> Incoming:
        """From an ASGI HTTP scope: the origin as the client named it (Host header)."""
        head = Head.of(scope) if head is None else head
        host = head.host
        if host is None:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}".encode()
        host = host.strip(b" \t")  # optional whitespace around a field value
        return cls(
            method=head.method,
            path=head.path,
            query=head.query,
            headers=head.headers,
            body=body,
            origin=f"{head.scheme}://{host.decode('latin-1')}",
            raw_path=scope.get("raw_path") or head.path.encode("utf-8", "surrogateescape"),
            head=head,
        )

    @property
    def url(self) -> str:
        """The absolute URL of the path, without the query."""
        return self.origin + self.path

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query.decode("latin-1"), keep_blank_values=True)
