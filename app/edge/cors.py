"""CORS: which browser origins may call leads-proxy, and the headers that say so.

Starlette's `CORSMiddleware` rules, answered in the ASGI layer (`edge.asgi`)
from headers built once: a preflight (`OPTIONS` with `Origin` and
`Access-Control-Request-Method`) from an allowed origin is a 204 that lists
the methods and headers a call may use; every answer to an allowed origin
carries `Access-Control-Allow-Origin` and `-Expose-Headers`, and
`Vary: Origin` unless any origin is allowed. A disallowed origin gets no CORS
header at all (its preflight a 403 that says why), so the browser refuses.
Only the API's paths: leads-proxy's own views (`/_proxy/...`) answer no other
origin, whatever `--cors-origins` says. A preflight allows at most `MAX_ASKED`
of the headers it asks for besides the usual ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..http.reply import Headers, Reply

ANY = "*"
ALLOW_HEADERS = (
    "authorization",
    "prefer",
    "content-type",
    "if-none-match",
    "cache-control",
    "accept",
    "x-requested-with",
)
EXPOSE_HEADERS = (
    "ETag",
    "Cache-Status",
    "X-Cache",
    "Age",
    "Preference-Applied",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Mock-Source",
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]{1,64}")  # a header name
MAX_AGE = 600  # seconds a browser may keep a preflight's answer (Starlette's default)
MAX_ASKED = 64  # header names a preflight may ask for: those past it are not allowed
MAX_SHOWN = 200  # bytes of a refused origin said back


@dataclass(frozen=True)
class Cors:
    """The allowed origins (`None`: any) and the headers answered to them."""

    origins: frozenset[bytes] | None
    methods: Sequence[str] = ("GET", "HEAD", "OPTIONS")
    _any: Headers = field(init=False, repr=False)
    _preflight: Headers = field(init=False, repr=False)

    def __post_init__(self) -> None:
        expose = (b"access-control-expose-headers", ", ".join(EXPOSE_HEADERS).encode())
        object.__setattr__(self, "_any", ((b"access-control-allow-origin", b"*"), expose))
        preflight = (
            (b"access-control-allow-methods", ", ".join(self.methods).encode()),
            (b"access-control-max-age", str(MAX_AGE).encode()),
        )
        object.__setattr__(self, "_preflight", preflight)

    @classmethod
    def of(cls, origins: Sequence[str], methods: Sequence[str]) -> Cors | None:
        """From the `--cors-origins` list: None when it allows no origin."""
        if not origins:
            return None
        if ANY in origins:
            return cls(None, methods)
        return cls(frozenset(origin.encode() for origin in origins), methods)

    def allows(self, origin: bytes) -> bool:
        return self.origins is None or origin in self.origins

    def headers(self, origin: bytes) -> Headers:
        """What an answer to an allowed `origin` carries."""
        if self.origins is None:
            return self._any
        return (
            (b"access-control-allow-origin", origin),
            self._any[1],
            (b"vary", b"Origin"),
        )

    def preflight(self, origin: bytes, requested: bytes | None) -> Reply:
        """The answer to a preflight from `origin` asking to send `requested` headers."""
        if not self.allows(origin):
            shown = origin[:MAX_SHOWN].decode("latin-1")
            message = f"The origin {shown} may not call this server (see --cors-origins)."
            return Reply.message(403, {"message": message})
        allowed = dict.fromkeys(ALLOW_HEADERS)
        for name in (requested or b"").decode("latin-1").lower().split(",", MAX_ASKED)[:MAX_ASKED]:
            if (name := name.strip()) and _TOKEN.fullmatch(name):
                allowed[name] = None
        headers = (
            *self.headers(origin),
            *self._preflight,
            (b"access-control-allow-headers", ", ".join(allowed).encode()),
        )
        return Reply(204, headers)


def origin_of(headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"origin":
            return value
    return None


def without_cors(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Response headers less any CORS ones (an upstream's, replaced by ours)."""
    return [(name, value) for name, value in headers if not name.startswith(b"access-control-")]
