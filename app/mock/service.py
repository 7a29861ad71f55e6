"""Mock mode: answer the leads listing from the fixtures, offline.

`MockService` knows nothing of HTTP frameworks: an `Incoming` request of plain
values in, a `Reply` of ready bytes out, so a test, the ASGI hot path and a
FastAPI route drive it alike. A key that has written (`mock.writes`) is
listed from its own state (`mock.keyed`), as ready as the fixtures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from operator import itemgetter
from typing import Literal

from cachetools import LRUCache

from ..fixtures.files import FixtureSet
from ..http.checks import TWO_AUTHORIZATIONS, too_long
from ..http.etag import etag_matches
from ..http.hosts import NOT_A_HOST
from ..http.keys import bearer_token, fingerprint_of, state_key
from ..http.reply import Headers, Reply
from ..http.request import Head, Incoming
from ..http.service import Served
from .answers import (
    EMULATED,
    SCENARIOS,
    STATE,
    UNAUTHENTICATED,
    UNAUTHENTICATED_SERVED,
    WRITE_SCENARIOS,
    generated,
    size_of,
    unknown_example,
    walk_seed,
)
from .keyed import KeyedListings, Listing
from .prefer import Preferences, PreferError, parse_prefer
from .query import QueryError, parse_query
from .render import Renderer
from .replay import Replay, page_base
from .throttle import Throttle

__all__ = ["UNAUTHENTICATED", "MockService", "walk_seed"]

RENDERED_CACHE_BYTES = 32 * 1024 * 1024  # the rendered and answered caches, as size_of counts
# A write, given the key's state key (http.keys.state_key) and shown fingerprint.
Operation = Callable[[str, str], Awaitable[Reply]]


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
        keyed: KeyedListings | None = None,
    ) -> None:
        self.fixtures = fixtures
        self.require_auth = require_auth
        self.throttle = self._started_throttle = throttle
        self.scenario: str | None = None  # a Prefer for requests that send none
        # Recordings answer first (mock.replay); None: everything is emulated.
        self.replay = replay if replay is not None and (replay or replay.strict) else None
        self.keyed = keyed  # the listings of keys that have written; None: no writes
        self.render = Renderer(fixtures, rendered_cache_bytes)
        default = self.render.whole(fixtures.default)
        self._default_served = Served.of_mock(default)
        self._default_304 = Served.of_mock(default.not_modified())
        self._answered: LRUCache[tuple[str, bytes, bytes | None, str], tuple[Served, int]]
        self._answered = LRUCache(rendered_cache_bytes, itemgetter(1))  # for `hot`

    def hot(self, head: Head) -> Served | None:
        """A listing with no scenario that was answered before: ready, or None.

        The unfiltered default is always ready; a filtered or paged listing is
        once it has been answered for the same path, raw query, Host and scheme
        (page URLs name them), as long as it stays in the rendered cache's bounds.
        A key that has written has its own such answers (`mock.keyed`). A query
        that has a recording takes the full path (mock.replay), as does every
        request while a scenario is set.
        """
        if self.scenario is not None or head.prefer is not None or head.authorizations > 1:
            return None
        query, authorization = head.query, head.authorization
        own: Listing | Literal[False] | None = False
        if self.keyed is not None:
            own = self.keyed.ready(authorization)
        if own is None:
            return None  # its listing is to be made, or the state changed
        not_modified = None
        if own is not False:
            ready = own.answered.get(_where(head)) if query else own.served
            if ready is None:
                return None
            not_modified = None if query else own.not_modified
        elif self.replay is not None and (self.replay.strict or self.replay.covers(query)):
            return None
        elif not query:
            ready, not_modified = self._default_served, self._default_304
        elif (found := self._answered.get(_where(head))) is not None:
            ready = found[0]
        else:
            return None
        if self.require_auth and bearer_token(authorization) is None:
            return UNAUTHENTICATED_SERVED
        if_none_match = head.if_none_match
        if if_none_match is not None and etag_matches(if_none_match, ready.reply.etag or b""):
            ready = not_modified or ready._replace(reply=ready.reply.not_modified())
        if self.throttle is not None:
            reply = ready.reply
            return Served.of_mock(self._metered(authorization, lambda: reply))
        return ready

    def _admit(self, authorization: bytes | None) -> Headers | Reply:
        """The rate limit's word on a request: its headers, or the 429."""
        token = bearer_token(authorization)
        if self.throttle is None or token is None:
            return ()
        taken = self.throttle.take(token)
        return taken if isinstance(taken, Reply) else taken.headers

    def _metered(self, authorization: bytes | None, answer: Callable[[], Reply]) -> Reply:
        """The answer as the rate limit lets it through: with its headers, or the 429."""
        admitted = self._admit(authorization)
        if isinstance(admitted, Reply):
            return admitted
        return answer().with_headers(*admitted) if admitted else answer()

    async def answer(self, incoming: Incoming) -> Served:
        """As `reply`, with what takes time made off the loop: a generated data set, a
        large recording's answer, a written key's listing."""
        prefs = self._prefs(incoming)
        listing = None
        if isinstance(prefs, Preferences) and prefs.dynamic and prefs.seed is not None:
            key = (prefs.count, prefs.seed)
            if key not in self.render.generated:
                made = await asyncio.to_thread(generated, prefs.count, prefs.seed)
                self.render.generated[key] = made  # stored here, on the loop: one thread touches it
        elif isinstance(prefs, Preferences) and prefs.example is None:
            if self.keyed is not None:
                listing = await self.keyed.listing(incoming.head.authorization)
            if listing is None and self.replay is not None:
                await self.replay.prepare(incoming)  # a large recording's answer, on a thread
        return Served.of_mock(self.reply(incoming, prefs, listing))

    def reply(
        self,
        request: Incoming,
        prefs: Preferences | Reply | None = None,
        listing: Listing | None = None,
    ) -> Reply:
        """Any leads listing request: scenarios, examples, filters and pages; `listing`,
        the key's own when it has written."""
        if (long := too_long(request.query)) is not None:
            return long
        if request.head.authorizations > 1:  # whose listing would it be?
            return TWO_AUTHORIZATIONS
        if self.throttle is not None:
            authorization = request.head.authorization
            return self._metered(authorization, lambda: self._reply(request, prefs, listing))
        return self._reply(request, prefs, listing)

    async def write(
        self,
        request: Incoming,
        operation: Operation,
        scenarios: Mapping[int, Reply] = WRITE_SCENARIOS,
    ) -> Served:
        """A write, or the campaigns list, let in as a listing is: the key's auth, its
        rate limit (the real throttle counts every request) and a `Prefer: code=`
        scenario (answered instead, nothing changed) or `delay=`."""
        prefs = self._prefs(request)
        if isinstance(prefs, Reply):
            return Served.of_mock(prefs)
        authorization = request.head.authorization
        if self.require_auth and bearer_token(authorization) is None:
            return UNAUTHENTICATED_SERVED
        taken = self._admit(authorization)
        if isinstance(taken, Reply):
            return Served.of_mock(taken)
        if prefs.code is not None and prefs.code != 200:
            reply = scenarios[prefs.code]
        else:
            reply = await operation(state_key(authorization), fingerprint_of(authorization) or "")
        if taken or prefs.delay_ms:
            reply = reply.with_headers(*taken, delay=prefs.delay_ms / 1000)
        return Served.of_mock(reply)

    def _reply(
        self, request: Incoming, prefs: Preferences | Reply | None, listing: Listing | None
    ) -> Reply:
        prefs = self._prefs(request) if prefs is None else prefs
        if isinstance(prefs, Reply):
            return prefs
        reply = self._answer(request, prefs, listing)
        if request.query and reply.status == 200 and not prefs.applied() and not prefs.delay_ms:
            self._remember(request, reply, listing)
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

    def _remember(self, request: Incoming, reply: Reply, listing: Listing | None) -> None:
        """Make this answer ready for the same path, raw query, Host and scheme (see hot)."""
        key = (request.path, request.query, request.head.host, request.head.scheme)
        size = size_of(reply, *key)
        if listing is not None and self.keyed is not None:
            listing.answered[key] = Served.of_mock(reply)
            self.keyed.grew(request.head.authorization, listing, size)
        elif size <= self._answered.maxsize:
            self._answered[key] = (Served.of_mock(reply), size)

    def _answer(self, request: Incoming, prefs: Preferences, listing: Listing | None) -> Reply:
        token = bearer_token(request.head.authorization)
        if self.require_auth and token is None:
            return UNAUTHENTICATED
        if prefs.code is not None and prefs.code != 200:
            return SCENARIOS[prefs.code]
        replay = self.replay
        if replay is not None and listing is None and prefs.example is None and not prefs.dynamic:
            recorded = replay.answer(request.query, token, request.origin + "/api")
            if recorded is not None:
                return recorded
            if replay.strict:
                return replay.refusal()
        try:
            query = parse_query(request.query_pairs)
        except QueryError as error:
            return Reply.message(422, error.body(), EMULATED)
        source = listing.fixture if listing is not None else self.render.source(prefs)
        if source is None:
            return unknown_example(prefs.example, self.fixtures.names())
        if not (query.filtered or query.paginated):
            return listing.served.reply if listing is not None else self.render.whole(source)
        if query.paginated and page_base(request.url) is None:
            return NOT_A_HOST  # page URLs name the Host: it must be one a URL can hold
        origin = EMULATED if listing is None else STATE
        return self.render.listing(source, query, request.url, origin)


def _where(head: Head) -> tuple[str, bytes, bytes | None, str]:
    """What a ready filtered or paged answer is kept under: page URLs name all of it."""
    return (head.path.rstrip("/"), head.query, head.host, head.scheme)
