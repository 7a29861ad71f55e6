"""The mock use case: answer a leads listing request from the fixtures.

`MockService` knows nothing of HTTP frameworks: it takes a `LeadsRequest` of
plain values and returns a `Reply` of ready bytes, so it can be driven from a
test, from the thin ASGI fast path, or from a FastAPI route alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cachetools import LRUCache

from app.fixtures import Fixture, FixtureSet, encode, etag_of
from app.generate import generate_leads
from app.prefer import Preferences, PreferError, parse_prefer
from app.query import LeadsQuery, QueryError, paginate, parse_query

MAX_QUERY_BYTES = 4096
RENDERED_CACHE_BYTES = 64 * 1024 * 1024
GENERATED_CACHE_ENTRIES = 8
RETRY_AFTER_SECONDS = 60

Headers = tuple[tuple[bytes, bytes], ...]
JSON_TYPE = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer, ready to send: status, raw headers and body bytes."""

    status: int
    headers: Headers
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before sending (Prefer: delay)

    @classmethod
    def json(cls, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> Reply:
        length = (b"content-length", str(len(body)).encode())
        return cls(status, (JSON_TYPE, length, *extra), body)

    @classmethod
    def message(cls, status: int, data: dict[str, Any], *extra: tuple[bytes, bytes]) -> Reply:
        return cls.json(status, encode(data), *extra)

    def not_modified(self) -> Reply:
        return Reply(304, tuple((k, v) for k, v in self.headers if k == b"etag"))

    @property
    def etag(self) -> bytes | None:
        return next((value for name, value in self.headers if name == b"etag"), None)


def _ok(fixture: Fixture) -> Reply:
    return Reply.json(200, fixture.body, (b"etag", fixture.etag))


# The bodies the real API (Laravel) sends for each scenario status.
SCENARIOS: dict[int, Reply] = {
    401: Reply.message(401, {"message": "Unauthenticated."}),
    404: Reply.message(404, {"message": "Lead not found"}),
    422: Reply.message(
        422,
        QueryError({"per_page": ["The per page field must be between 1 and 100."]}).body(),
    ),
    429: Reply.message(
        429,
        {"message": "Too Many Attempts."},
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"x-ratelimit-limit", b"60"),
        (b"x-ratelimit-remaining", b"0"),
    ),
    500: Reply.message(500, {"message": "Server Error"}),
    503: Reply.message(503, {"message": "Service Unavailable"}),
}
UNAUTHENTICATED = SCENARIOS[401]


def has_bearer(authorization: bytes | None) -> bool:
    """Whether an Authorization header carries a non-empty bearer token."""
    return (
        authorization is not None
        and authorization[:7].lower() == b"bearer "
        and bool(authorization[7:].strip())
    )


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against one ETag."""
    if if_none_match.strip() == b"*":
        return True
    return any(tag.strip().removeprefix(b"W/") == etag for tag in if_none_match.split(b","))


@dataclass(frozen=True, slots=True)
class LeadsRequest:
    """What the mock needs to know of a leads listing request."""

    query: Sequence[tuple[str, str]] = ()
    query_bytes: int = 0
    authorization: bytes | None = None
    if_none_match: bytes | None = None
    prefer: Sequence[str] = ()
    # The absolute URL of the requested path: page links point back at it.
    url: str = "http://127.0.0.1:8000/api/user/leads"


class MockService:
    """Answers leads listings from fixtures, with filters, pages and scenarios."""

    def __init__(
        self,
        fixtures: FixtureSet,
        *,
        require_auth: bool = True,
        rendered_cache_bytes: int = RENDERED_CACHE_BYTES,
    ) -> None:
        self.fixtures = fixtures
        self.require_auth = require_auth
        self._default = _ok(fixtures.default)
        self._default_etag = fixtures.default.etag
        self._default_304 = self._default.not_modified()
        self._rendered: LRUCache[Any, Reply] = LRUCache(
            maxsize=rendered_cache_bytes, getsizeof=lambda reply: len(reply.body) + 512
        )
        self._generated: LRUCache[tuple[int, int], Fixture] = LRUCache(GENERATED_CACHE_ENTRIES)

    def default_reply(self, authorization: bytes | None, if_none_match: bytes | None) -> Reply:
        """The hot path: the unfiltered default example, no scenario asked for."""
        if self.require_auth and not has_bearer(authorization):
            return UNAUTHENTICATED
        if if_none_match is not None and etag_matches(if_none_match, self._default_etag):
            return self._default_304
        return self._default

    def list_leads(self, request: LeadsRequest) -> Reply:
        """Any leads listing request: scenarios, examples, filters and pages."""
        if request.query_bytes > MAX_QUERY_BYTES:
            return Reply.message(
                414,
                {"message": f"The query string is too long ({request.query_bytes} bytes; "
                 f"at most {MAX_QUERY_BYTES})."},
            )  # fmt: skip
        try:
            prefs = parse_prefer(request.prefer)
        except PreferError as error:
            return Reply.message(400, {"message": str(error)})
        if prefs.dynamic and prefs.seed is None:
            # Told back in Preference-Applied, so a surprising set can be replayed.
            prefs = replace(prefs, seed=secrets.randbelow(2**32))
        reply = self._answer(request, prefs)
        extra: Headers = ()
        if applied := prefs.applied():
            extra = ((b"preference-applied", applied.encode()),)
        if (
            reply.status == 200
            and request.if_none_match is not None
            and (etag := reply.etag) is not None
            and etag_matches(request.if_none_match, etag)
        ):
            reply = reply.not_modified()
        if not extra and not prefs.delay_ms:
            return reply
        return Reply(reply.status, reply.headers + extra, reply.body, prefs.delay_ms / 1000)

    def _answer(self, request: LeadsRequest, prefs: Preferences) -> Reply:
        if self.require_auth and not has_bearer(request.authorization):
            return UNAUTHENTICATED
        if prefs.code is not None and prefs.code != 200:
            return SCENARIOS[prefs.code]
        try:
            query = parse_query(request.query)
        except QueryError as error:
            return Reply.message(422, error.body())
        source = self._source(prefs)
        if source is None:
            names = self.fixtures.names()
            return Reply.message(
                404,
                {
                    "message": f"Unknown example {prefs.example!r}. "
                    f"Known examples: {', '.join(names)}",
                    "examples": names,
                },
            )
        if not (query.filtered or query.paginated):
            return _ok(source) if source is not self.fixtures.default else self._default
        return self._render(source, query, request.url)

    def _source(self, prefs: Preferences) -> Fixture | None:
        if prefs.dynamic and prefs.seed is not None:
            key = (prefs.count, prefs.seed)
            if (made := self._generated.get(key)) is None:
                made = Fixture.of("dynamic", generate_leads(prefs.count, seed=prefs.seed))
                self._generated[key] = made
            return made
        return self.fixtures.get(prefs.example or "default")

    def _render(self, source: Fixture, query: LeadsQuery, url: str) -> Reply:
        key = (source.etag, query, url if query.paginated else None)
        if (cached := self._rendered.get(key)) is not None:
            return cached
        selected = query.select(source.leads)
        data: Any = paginate(selected, query, url) if query.paginated else selected
        body = encode(data)
        reply = Reply.json(200, body, (b"etag", etag_of(body)))
        if len(body) + 512 <= self._rendered.maxsize:
            self._rendered[key] = reply
        return reply
