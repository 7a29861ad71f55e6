"""The values the services trade in, free of any web framework.

An `Incoming` request goes in (raw query string, raw headers), a `Reply` of
ready bytes comes out. The ASGI layer and the FastAPI routes only translate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from app.encoding import VARY, gzip_headers, prefers_gzip, same_data
from app.fixtures import encode

Headers = tuple[tuple[bytes, bytes], ...]
JSON_TYPE = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer, ready to send: status, raw headers and body bytes."""

    status: int
    headers: Headers
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before sending (Prefer: delay)
    # The same answer in gzip, for a client that prefers it (app.encoding).
    gzipped: Reply | None = None
    upstream: float | None = None  # seconds spent on the upstream for it, if any (journal)

    @classmethod
    def json(cls, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> Reply:
        length = (b"content-length", str(len(body)).encode())
        return cls(status, (JSON_TYPE, length, *extra), body)

    @classmethod
    def message(cls, status: int, data: dict[str, Any], *extra: tuple[bytes, bytes]) -> Reply:
        return cls.json(status, encode(data), *extra)

    def with_headers(self, *extra: tuple[bytes, bytes], delay: float | None = None) -> Reply:
        """The same answer with more headers (on each form), or another delay."""
        gzipped = self.gzipped.with_headers(*extra, delay=delay) if self.gzipped else None
        delay = self.delay if delay is None else delay
        return Reply(self.status, self.headers + extra, self.body, delay, gzipped)

    def with_gzip(self, gzipped: bytes | None) -> Reply:
        """This 200 offered in gzip too (when `gzipped` is not None): both forms vary."""
        if gzipped is None:
            return self
        variant = Reply(self.status, gzip_headers(self.headers, len(gzipped)), gzipped)
        return Reply(self.status, (*self.headers, VARY), self.body, self.delay, variant)

    def for_client(self, accept_encoding: bytes | None) -> Reply:
        """The form the client's Accept-Encoding prefers."""
        if self.gzipped is not None and prefers_gzip(accept_encoding):
            return self.gzipped
        return self

    def not_modified(self) -> Reply:
        kept = (b"content-type", b"content-length", b"content-encoding")
        gzipped = self.gzipped.not_modified() if self.gzipped else None
        headers = tuple((k, v) for k, v in self.headers if k not in kept)
        return Reply(304, headers, gzipped=gzipped)

    @property
    def etag(self) -> bytes | None:
        return next((value for name, value in self.headers if name == b"etag"), None)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A request as the services see it."""

    method: str = "GET"
    path: str = "/api/user/leads"
    query: bytes = b""  # raw, still percent-encoded
    headers: Sequence[tuple[bytes, bytes]] = ()  # raw, names in lower case
    body: bytes = b""
    origin: str = "http://127.0.0.1:8000"  # scheme://host[:port] the client used
    raw_path: bytes = b""  # the path as the client sent it, still percent-encoded

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)

    def header_values(self, name: bytes) -> list[str]:
        return [value.decode("latin-1") for key, value in self.headers if key == name]

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any], body: bytes = b"") -> Incoming:
        """From an ASGI HTTP scope: the origin as the client named it (Host header)."""
        headers = scope["headers"]
        host = next((value for key, value in headers if key == b"host"), None)
        if host is None:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}".encode()
        return cls(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"],
            headers=headers,
            body=body,
            origin=f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}",
            raw_path=scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape"),
        )

    @property
    def url(self) -> str:
        """The absolute URL of the path, without the query."""
        return self.origin + self.path

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query.decode("latin-1"), keep_blank_values=True)


class LeadsService(Protocol):
    """What serves the leads listing: mock, proxy and record modes alike."""

    def hot_reply(self, query: bytes, headers: Sequence[tuple[bytes, bytes]]) -> Reply | None:
        """The answer if it is ready without any work, else None (take the full path)."""

    async def answer(self, incoming: Incoming) -> Reply:
        """Any leads listing request."""


def hot_headers(
    headers: Sequence[tuple[bytes, bytes]], *, unless: bytes
) -> tuple[bytes | None, bytes | None] | None:
    """(Authorization, If-None-Match) from raw headers; None when `unless` is present.

    `unless` names the header that takes a request off the hot path (mock
    mode: Prefer; proxy mode: Cache-Control).
    """
    authorization = if_none_match = None
    for name, value in headers:
        if name == b"authorization":
            if authorization is not None:
                return None  # two of them: the full path refuses the request
            authorization = value
        elif name == b"if-none-match":
            if_none_match = value
        elif name == unless:
            return None
    return authorization, if_none_match


MAX_QUERY_BYTES = 4096  # in every mode: longer queries answer 414


def too_long(query: bytes) -> Reply | None:
    """A 414 for a query string over `MAX_QUERY_BYTES`, or None."""
    if len(query) <= MAX_QUERY_BYTES:
        return None
    message = f"The query string is too long ({len(query)} bytes; at most {MAX_QUERY_BYTES})."
    return Reply.message(414, {"message": message})


_VISIBLE = frozenset(range(0x20, 0x7F)) | {0x09}


def refusal(incoming: Incoming, *, passthrough: bool) -> Reply | None:
    """Why a request cannot be sent on as it is (a JSON error reply), or None.

    One `Authorization` header at most, in visible ASCII (else Laravel's 401);
    every other header value sent on in visible ASCII; on a pass-through path,
    no control byte and no `.` or `..` segment (it would leave /api/ upstream).
    """
    authorizations = [value for name, value in incoming.headers if name == b"authorization"]
    if len(authorizations) > 1:
        return Reply.message(400, {"message": "Send one Authorization header, not several."})
    if authorizations and not _VISIBLE.issuperset(authorizations[0]):
        return Reply.message(401, {"message": "Unauthenticated."})
    names = None if passthrough else {b"accept"}
    for name, value in incoming.headers:
        if (names is None or name in names) and not _VISIBLE.issuperset(value):
            header = name.decode("latin-1", "replace")
            message = f"The {header} header holds bytes that are not visible ASCII."
            return Reply.message(400, {"message": message})
    if passthrough:
        raw = incoming.raw_path
        decoded_path = incoming.path.encode("utf-8", "surrogateescape")
        if any(byte < 0x20 or byte == 0x7F for byte in raw + decoded_path):
            return Reply.message(400, {"message": "The path holds control characters."})
        segments = raw.split(b"/")
        decoded = [segment.replace(b"%2e", b".").replace(b"%2E", b".") for segment in segments]
        if any(segment in {b".", b".."} for segment in decoded):
            return Reply.message(400, {"message": "The path holds a . or .. segment."})
    return None


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against one ETag.

    The gzip form's tag matches too (`"abc-gzip"` for `"abc"`): the same data.
    """
    if if_none_match.strip() == b"*":
        return True
    etag = same_data(etag.removeprefix(b"W/"))
    return any(
        same_data(tag.strip().removeprefix(b"W/")) == etag for tag in if_none_match.split(b",")
    )
