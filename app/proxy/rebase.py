"""Page URLs that lead back through leads-proxy, not around it.

The upstream names itself in a paginated answer (`path`, `first_page_url`,
`next_page_url`, `links[].url`, ...): a client that follows `next_page_url`,
as most do, would leave the shield for the real API. Each such URL is
re-based onto the listing URL the client used: its scheme, host and port,
and its path (`/leads` or `/api/user/leads`).

The cache (and Redis) keeps the upstream's bytes, one entry for every name
the server is reached by. Each listing URL gets a view of an entry: its bytes
re-based, with an ETag and a gzip form of its own, made once and kept in
`Views` (least recently used first out, within a byte bound of its own), so a
hit still sends ready bytes.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from cachetools import LRUCache

from ..http.encoding import gzip_of
from ..http.etag import etag_of
from ..http.hosts import host_name
from ..http.request import Incoming
from .cache import Entry

_SCHEMES = frozenset({"http", "https"})
THREAD_BYTES = 64 * 1024  # views of larger bodies are made on a thread
KEPT_OVERHEAD = 512  # a kept view's slot: its key, the pair, the cache's bookkeeping


def listing_url_of(upstream_base: str) -> str:
    """The upstream's own listing URL, from its base (`https://app.sondos-ai.com/api`)."""
    return upstream_base.rstrip("/") + "/user/leads"


def client_listing(scheme: str, host: bytes | None, path: str) -> str | None:
    """The listing URL the client used, or None when its Host cannot name one."""
    if host is None or scheme not in _SCHEMES or host_name(host) is None:
        return None
    named = host.strip(b" \t").decode("ascii")
    return f"{scheme}://{named}{path.rstrip('/') or '/'}"


def listing_of(incoming: Incoming) -> str | None:
    """The listing URL a request on the full path used (its Host, or else our address)."""
    scheme, _, host = incoming.origin.partition("://")
    return client_listing(scheme, host.encode("latin-1"), incoming.path)


def rebased(body: bytes, upstream_listing: str, client: str) -> bytes:
    """`body` with the upstream's listing URL (plain or with JSON's escaped slashes)
    replaced by the client's, in the same spelling."""
    if not client or upstream_listing == client:
        return body
    for old, new in ((upstream_listing, client), (_escaped(upstream_listing), _escaped(client))):
        body = body.replace(old.encode(), new.encode())
    return body


def _escaped(url: str) -> str:
    return url.replace("/", "\\/")


class Views:
    """Views of entries from the upstream at `upstream_base`, by entry and listing URL,
    within `max_bytes` in all."""

    def __init__(self, upstream_base: str, max_bytes: int) -> None:
        self.upstream = listing_url_of(upstream_base)
        self._kept: LRUCache[tuple[int, str], tuple[Entry, Entry]] = LRUCache(
            maxsize=max(1, max_bytes), getsizeof=lambda kept: _extra(*kept)
        )

    def of(self, client: str) -> Rebase:
        """The way from the upstream's page URLs to `client`'s."""
        return Rebase(self.upstream, client, self)

    def get(self, entry: Entry, client: str) -> Entry | None:
        # By the entry's body: the entry a fill answers with and the one stored (the same
        # but for its key's length) share one view; never one of a body whose id is reused.
        kept = self._kept.get((id(entry.body), client))
        if kept is None or not _same(kept[0], entry):
            return None
        return kept[1]

    def keep(self, entry: Entry, client: str, view: Entry) -> None:
        if _extra(entry, view) <= self._kept.maxsize:  # one too large is made each time
            self._kept[id(entry.body), client] = (entry, view)


def _same(kept: Entry, entry: Entry) -> bool:
    """Whether a view made of `kept` is right for `entry`: the same body and deadlines."""
    return kept is entry or (
        kept.body is entry.body
        and kept.hot_until == entry.hot_until
        and kept.fresh_until == entry.fresh_until
        and kept.stale_until == entry.stale_until
        and kept.error_until == entry.error_until
        and kept.stored_at == entry.stored_at
    )


def _extra(entry: Entry, view: Entry) -> int:
    """What keeping a view costs on top of its entry: its slot and key (a listing URL of
    a valid Host, a few hundred bytes at most), and its own bytes unless it is the entry."""
    return KEPT_OVERHEAD if view is entry else view.size + KEPT_OVERHEAD


class Rebase(NamedTuple):
    """From the upstream's listing URL to the one a client used."""

    upstream: str
    client: str
    views: Views

    def view(self, entry: Entry) -> Entry:
        """The entry as this client sees it (made here if not made before)."""
        found = self.views.get(entry, self.client)
        if found is None:
            found = self._made(entry)
            self.views.keep(entry, self.client, found)
        return found

    def ready(self, entry: Entry) -> bool:
        """Whether `view` costs no more than a lookup (or a small body's rewrite)."""
        return len(entry.body) < THREAD_BYTES or self.views.get(entry, self.client) is not None

    async def prepare(self, entry: Entry) -> None:
        """Make the view beforehand: a large body's on a thread, not holding the loop."""
        if not self.ready(entry):
            self.views.keep(entry, self.client, await asyncio.to_thread(self._made, entry))

    def _made(self, entry: Entry) -> Entry:
        body = rebased(entry.body, self.upstream, self.client)
        if body == entry.body:
            return entry  # nothing named the upstream (a bare array, an empty page)
        return Entry.build(
            body,
            etag=etag_of(body),
            content_type=entry.content_type,
            stored_at=entry.stored_at,
            fresh_until=entry.fresh_until,
            stale_until=entry.stale_until,
            error_until=entry.error_until,
            hot_until=entry.hot_until,
            gzipped=None if entry.gzipped is None else gzip_of(body),
            cache_control=entry.cache_control,
        )
