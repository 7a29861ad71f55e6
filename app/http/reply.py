"""The values the services trade in, free of any web framework.

An `Incoming` request goes in (raw query string, raw headers), a `Reply` of
ready bytes comes out. The ASGI layer and the FastAPI routes only translate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .encoding import VARY, gzip_headers, prefers_gzip
from .jsonbody import encode

Headers = tuple[tuple[bytes, bytes], ...]
JSON_TYPE = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer, ready to send: status, raw headers and body bytes."""

    status: int
    headers: Headers
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before sending (Prefer: delay)
    # The same answer in gzip, for a client that prefers it (http.encoding).
    gzipped: Reply | None = None

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
