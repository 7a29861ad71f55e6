"""Mock mode: answer the leads listing from the fixtures, offline.

`MockService` knows nothing of HTTP frameworks: an `Incoming` request of plain
values in, a `Reply` of ready bytes out, so a test, the ASGI hot path and a
FastAPI route drive it alike.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import replace
from operator import itemgetter
from typing import Any

from cachetools import LRUCache

from ..fixtures.files import Fixture, FixtureSet
from ..fixtures.generate import generate_leads
from ..http.checks import too_long
from ..http.encoding import gzip_of
from ..http.etag import etag_matches, etag_of
from ..http.hosts import NOT_A_HOST
from ..http.jsonbody import encode
from ..http.keys import bearer_token
from ..http.reply import Headers, Reply
from ..http.request import Head, Incoming
from ..http.service import Served
from .prefer import Preferences, PreferError, parse_prefer
from .query import LeadsQuery, QueryError, paginate, parse_query
from .replay import PRIVATE, Replay, page_base
from .throttle import Throttle

RENDERED_CACHE_BYTES = 32 * 1024 * 1024  # each of the two caches below, counted as _size says
GENERATED_CACHE_ENTRIES = 8
RETRY_AFTER_SECONDS = 60


EMULATED = (b"x-mock-source", b"emulated")


def _ok(fixture: Fixture) -> Reply:
    reply = Reply.json(200, fixture.body, (b"etag", fixture.etag), PRIVATE, EMULATED)
    return reply.with_gzip(fixture.gzipped)


# The bodies the real API (Laravel) sends for each scenario status.
SCENARIOS: dict[int, Reply] = {
    401: Reply.message(401, {"message": "Unauthenticated."}, EMULATED),
    404: Reply.message(404, {"message": "Lead not found"}, EMULATED),
    422: Reply.message(
        422,
        QueryError({"per_page": ["The per page field must be between 1 and 100."]}).body(),
        EMULATED,
    ),
    429: Reply.message(
        429,
        {"message": "Too Many Attempts."},
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"x-ratelimit-limit", b"60"),
        (b"x-ratelimit-remaining", b"0"),
        EMULATED,
    ),
    500: Reply.message(500, {"message": "Server Error"}, EMULATED),
    503: Reply.message(503, {"message": "Service Unavailable"}, EMULATED),
}
UNAUTHENTICATED = SCENARIOS[401]
UNAUTHENTICATED_SERVED = Served.of_mock(UNAUTHENTICATED)


class MockService:
    """Answers leads listings from fixtures, with filters, pages and scenarios."""

    def __init__(
        self,
        fixtures: FixtureSet,
        *,
        require_auth: bool = True,
        rendered_cache_bytes: int = RENDERED_CACHE_BYTES,
        throttle: Throttle | None = None,
        replay: Replay | None = None,
    ) -> None:
        self.fixtures = fixtures
        self.require_auth = require_auth
        self.throttle = self._started_throttle = throttle
        self.scenario: str | None = None  # a Prefer for requests that send none
        # Recordings answer first (mock.replay); None: everything is emulated.
        self.replay = replay if replay is not None and (replay or replay.strict) else None
        self._default = _ok(fixtures.default)
        # Whole-fixture replies by ETag: few files; generated sets are bounded below.
        self._whole: LRUCache[bytes, Reply] = LRUCache(maxsize=64)
        self._whole[fixtures.default.etag] = self._default
        self._default_etag = fixtures.default.etag
        self._default_served = Served.of_mock(self._default)
        self._default_304 = Served.of_mock(self._default.not_modified())
        self._rendered: LRUCache[Any, tuple[Reply, int]] = LRUCache(  # each with its _size
            rendered_cache_bytes, itemgetter(1)
        )
        self._generated: LRUCache[tuple[int, int], Fixture] = LRUCache(GENERATED_CACHE_ENTRIES)
        self._answered: LRUCache[tuple[str, bytes, bytes | None, str], tuple[Served, int]]
        self._answered = LRUCache(rendered_cache_bytes, itemgetter(1))  # for `hot`

    def hot(self, head: Head) -> Served | None:
        """A listing with no scenario that was answered before: ready, or None.

        The unfiltered default is always ready; a filtered or paged listing is
        once it has been answered for the same path, raw query, Host and scheme
        (page URLs name them), as long as it stays in the rendered cache's bounds.
        A query that has a recording takes the full path (mock.replay), as does
        every request while a scenario is set.
        """
        if self.scenario is not None or head.prefer is not None or head.authorizations > 1:
            return None
        query = head.query
        if self.replay is not None and (self.replay.strict or self.replay.covers(query)):
            return None
        if not query:
            ready = self._default_served
        else:
            found = self._answered.get((head.path.rstrip("/"), query, head.host, head.scheme))
            if found is None:
                return None
            ready = found[0]
        authorization = head.authorization
        if self.require_auth and bearer_token(authorization) is None:
            return UNAUTHENTICATED_SERVED
        if_none_match = head.if_none_match
        if if_none_match is not None and etag_matches(if_none_match, ready.reply.etag or b""):
            ready = ready._replace(reply=ready.reply.not_modified()) if query else self._default_304
        if self.throttle is not None:
            reply = ready.reply
            return Served.of_mock(self._metered(authorization, lambda: reply))
        return ready

    def _metered(self, authorization: bytes | None, answer: Callable[[], Reply]) -> Reply:
        """The answer as the rate limit lets it through: with its headers, or the 429."""
        token = bearer_token(authorization)
        if self.throttle is None or token is None:
            return answer()
        taken = self.throttle.take(token)
        if isinstance(taken, Reply):
            return taken
        return answer().with_headers(*taken.headers)

    async def answer(self, incoming: Incoming) -> Served:
        """As `reply`, with a generated data set made on a thread: the loop never waits on it."""
        prefs = self._prefs(incoming)
        if isinstance(prefs, Preferences) and prefs.dynamic and prefs.seed is not None:
            key = (prefs.count, prefs.seed)
            if key not in self._generated:
                made = await asyncio.to_thread(_generated, prefs.count, prefs.seed)
                self._generated[key] = made  # stored here, on the loop: one thread touches it
        if self.replay is not None and isinstance(prefs, Preferences) and prefs.example is None:
            await self.replay.prepare(incoming)  # a large recording's answer, on a thread
        return Served.of_mock(self.reply(incoming, prefs))

    def reply(self, request: Incoming, prefs: Preferences | Reply | None = None) -> Reply:
        """Any leads listing request: scenarios, examples, filters and pages."""
        if (long := too_long(request.query)) is not None:
            return long
        if self.throttle is not None:
            authorization = request.head.authorization
            return self._metered(authorization, lambda: self._reply(request, prefs))
        return self._reply(request, prefs)

    def _reply(self, request: Incoming, prefs: Preferences | Reply | None) -> Reply:
        prefs = self._prefs(request) if prefs is None else prefs
        if isinstance(prefs, Reply):
            return prefs
        reply = self._answer(request, prefs)
        if request.query and reply.status == 200 and not prefs.applied() and not prefs.delay_ms:
            self._remember(request, reply)
        extra: Headers = ()
        if applied := prefs.applied():
            extra = ((b"preference-applied", applied.encode()),)
        if_none_match = request.head.if_none_match
        if (
            reply.status == 200
            and if_none_match is not None
            and (etag := reply.etag) is not None
            and etag_matches(if_none_match, etag)
        ):
            reply = reply.not_modified()
        if not extra and not prefs.delay_ms:
            return reply
        return reply.with_headers(*extra, delay=prefs.delay_ms / 1000)

    def set_scenario(self, prefer: str | None, rate_limit: int | None) -> None:
        """The scenario for requests without a Prefer header (`PUT /_proxy/scenario`), and the
        rate limit; None and None: back to plain answers. Raises PreferError on a bad one."""
        if prefer is not None:
            parse_prefer([prefer])
        self.scenario = prefer
        self.throttle = Throttle(rate_limit) if rate_limit else self._started_throttle

    def _prefs(self, request: Incoming) -> Preferences | Reply:
        """The request's scenario, with a seed chosen if it asks for a data set without one;
        or the 400 for a bad Prefer."""
        asked = request.header_values(b"prefer")
        if not asked and self.scenario is not None:
            asked = [self.scenario]
        try:
            prefs = parse_prefer(asked)
        except PreferError as error:
            return Reply.message(400, {"message": str(error)})
        if prefs.dynamic and prefs.seed is None:
            # Told back in Preference-Applied, so a surprising set can be replayed.
            prefs = replace(prefs, seed=walk_seed(request))
        return prefs

    def _remember(self, request: Incoming, reply: Reply) -> None:
        """Make this answer ready for the same path, raw query, Host and scheme (see hot)."""
        key = (request.path, request.query, request.head.host, request.head.scheme)
        if (size := _size(reply, *key)) <= self._answered.maxsize:
            self._answered[key] = (Served.of_mock(reply), size)

    def _answer(self, request: Incoming, prefs: Preferences) -> Reply:
        token = bearer_token(request.head.authorization)
        if self.require_auth and token is None:
            return UNAUTHENTICATED
        if prefs.code is not None and prefs.code != 200:
            return SCENARIOS[prefs.code]
        replay = self.replay
        if replay is not None and prefs.example is None and not prefs.dynamic:
            recorded = replay.answer(request.query, token, request.origin + "/api")
            if recorded is not None:
                return recorded
            if replay.strict:
                return replay.refusal()
        try:
            query = parse_query(request.query_pairs)
        except QueryError as error:
            return Reply.message(422, error.body(), EMULATED)
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
                EMULATED,
            )
        if not (query.filtered or query.paginated):
            return self._ready(source)
        if query.paginated and page_base(request.url) is None:
            return NOT_A_HOST  # page URLs name the Host: it must be one a URL can hold
        return self._render(source, query, request.url)

    def _ready(self, fixture: Fixture) -> Reply:
        """The whole-fixture answer, built once per fixture."""
        if (reply := self._whole.get(fixture.etag)) is None:
            reply = self._whole[fixture.etag] = _ok(fixture)
        return reply

    def _source(self, prefs: Preferences) -> Fixture | None:
        if prefs.dynamic and prefs.seed is not None:
            key = (prefs.count, prefs.seed)
            if (made := self._generated.get(key)) is None:
                made = self._generated[key] = _generated(prefs.count, prefs.seed)
            return made
        return self.fixtures.get(prefs.example or "default")

    def _render(self, source: Fixture, query: LeadsQuery, url: str) -> Reply:
        key = (source.etag, query, url if query.paginated else None)
        if (cached := self._rendered.get(key)) is not None:
            return cached[0]
        selected = query.select(source.leads)
        data: Any = paginate(selected, query, url) if query.paginated else selected
        body = encode(data)
        reply = Reply.json(200, body, (b"etag", etag_of(body)), PRIVATE, EMULATED)
        reply = reply.with_gzip(gzip_of(body))
        if (size := _size(reply, url, *map("".join, query.carried))) <= self._rendered.maxsize:
            self._rendered[key] = (reply, size)
        return reply


def walk_seed(request: Incoming) -> int:
    """The data set of `Prefer: dynamic=true` without a seed: one per API key and
    filters, so every page of one client's walk (next_page_url carries no header)
    comes from the same set. Only `page` is left out."""
    token = bearer_token(request.head.authorization) or b""
    kept = sorted((name, value) for name, value in request.query_pairs if name != "page")
    material = token + b"\0" + repr(kept).encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=4).digest(), "big")


def _size(reply: Reply, *key: str | bytes | None) -> int:
    """Bytes a reply (both forms, headers) and its key's parts hold, 1 KiB for the objects."""
    forms = (reply, reply.gzipped) if reply.gzipped else (reply,)
    held = [form.body for form in forms] + [b"".join(pair) for f in forms for pair in f.headers]
    return sum(map(len, held)) + sum(len(part or "") + 64 for part in key) + 1024


def _generated(count: int, seed: int) -> Fixture:
    """A generated data set as a fixture (validated and encoded once)."""
    return Fixture.of("dynamic", generate_leads(count, seed=seed))
