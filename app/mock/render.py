"""Listings made from a source of leads, each once: whole, filtered, paged."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from cachetools import LRUCache

from ..fixtures.files import Fixture, FixtureSet
from ..http.encoding import gzip_of
from ..http.jsonbody import encode
from ..http.reply import Reply
from .answers import EMULATED, Source, generated, rendered, size_of, whole
from .prefer import Preferences
from .query import LeadsQuery, paginate

GENERATED_CACHE_ENTRIES = 8


class Renderer:
    """The listings of the fixtures, generated sets and keys' states, kept within bounds."""

    def __init__(self, fixtures: FixtureSet, max_bytes: int) -> None:
        self.fixtures = fixtures
        # Whole-fixture replies by ETag: few files; generated sets are bounded below.
        self._whole: LRUCache[bytes, Reply] = LRUCache(maxsize=64)
        self._rendered: LRUCache[Any, tuple[Reply, int]] = LRUCache(  # each with its size_of
            max_bytes, itemgetter(1)
        )
        self.generated: LRUCache[tuple[int, int], Fixture] = LRUCache(GENERATED_CACHE_ENTRIES)

    def whole(self, fixture: Fixture) -> Reply:
        """The whole-fixture answer, built once per fixture."""
        if (reply := self._whole.get(fixture.etag)) is None:
            reply = self._whole[fixture.etag] = whole(fixture)
        return reply

    def source(self, prefs: Preferences) -> Fixture | None:
        """The leads a Prefer asks for: a generated set, an example, or the default."""
        if prefs.dynamic and prefs.seed is not None:
            key = (prefs.count, prefs.seed)
            if (made := self.generated.get(key)) is None:
                made = self.generated[key] = generated(prefs.count, prefs.seed)
            return made
        return self.fixtures.get(prefs.example or "default")

    def listing(
        self, source: Fixture, query: LeadsQuery, url: str, origin: Source = EMULATED
    ) -> Reply:
        """A filtered or paged listing of `source` (page URLs made from `url`)."""
        key = (source.etag, query, url if query.paginated else None, origin)
        if (cached := self._rendered.get(key)) is not None:
            return cached[0]
        selected = query.select(source.leads)
        data: Any = paginate(selected, query, url) if query.paginated else selected
        body = encode(data)
        reply = rendered(body, gzip_of(body), origin)
        if (size := size_of(reply, url, *map("".join, query.carried))) <= self._rendered.maxsize:
            self._rendered[key] = (reply, size)
        return reply
