"""Proxy mode: a per-key caching shield in front of the real leads listing.

For one API key and one query, the upstream sees at most one request per TTL:
concurrent misses share one request (single flight), answers past the TTL are
served while one background request refreshes them (stale-while-revalidate),
and when the upstream fails or rate-limits, the last good answer is served
(stale-if-error, 429 cooldown). Everything else under /api/ is forwarded as
it is, uncached; a successful write to a lead drops that key's listings.

The rules are `policy`'s, the filling `filling`'s, the bytes `verdicts`'s, the page
URLs `rebase`'s; this module carries a request through them and says what it served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from ..http.checks import MAX_QUERY_BYTES, refusal, too_long
from ..http.clock import Clock
from ..http.hosts import NOT_A_HOST
from ..http.keys import bearer_token
from ..http.reply import Reply
from ..http.request import Head, Incoming
from ..http.service import BYPASS, HIT, MISS, STALE, Served
from ..observe.stats import Stats
from . import verdicts
from .cache import CacheKey, Entry, KeyMaker
from .exchange import UpstreamError, fill_headers
from .filling import Filler
from .layer import SharedLayer
from .passthrough import is_lead_write, send_on
from .policy import (
    CachedOnly,
    Directives,
    Fallback,
    Fetch,
    Fresh,
    Hit,
    PassOn,
    Stale,
    TooMany,
    Unserved,
    decide,
    settle,
)
from .rebase import Rebase, Views, client_listing, listing_of
from .storage import MemoryStorage

log = logging.getLogger("leads_proxy")
JSON = "application/json"
SHARED_ONLY = ("redis_up", "redis_errors", "redis_outages", "redis_full", "shared_hits",
               "shared_waits")  # fmt: skip


class FixturesFallback(Protocol):
    """What answers a miss the upstream could not: mock mode's service, on the fixtures."""

    def reply(self, request: Incoming) -> Reply: ...


class ProxyService:
    """Serves the leads listing through the cache; forwards the rest of /api/."""

    def __init__(
        self,
        *,
        filler: Filler,
        keys: KeyMaker,
        clock: Clock = time.monotonic,
        fallback: FixturesFallback | None = None,
    ) -> None:
        self.filler = filler
        self.keys = keys
        self.storage: MemoryStorage = filler.storage
        self.stats: Stats = filler.stats
        self.shared: SharedLayer | None = filler.shared
        self._clock = clock
        self._fallback = fallback
        self._listener: asyncio.Task[None] | None = None
        self._views = Views(filler.upstream.base_url, self.storage.max_bytes // 2)
        self._ready = verdicts.ReadyHits(self.storage.max_bytes // 2)

    # --- the hot path -------------------------------------------------------

    def hot(self, head: Head) -> Served | None:
        """A fresh hit, answered with no other work; None for anything else."""
        authorization, query = head.authorization, head.query
        if (
            authorization is None
            or head.cache_control is not None
            or head.authorizations > 1  # the full path refuses it
            or len(query) > MAX_QUERY_BYTES
        ):
            return None
        if_none_match = head.if_none_match
        now = self._clock()
        storage = self.storage
        request = (authorization, query, head.host, head.path, head.scheme)
        if if_none_match is None:
            ready = self._ready.get(request, now, storage.generation)
            if ready is not None:
                return ready
        client = client_listing(head.scheme, head.host, head.path)
        key = self.keys.of_request(authorization, query)
        if key is None or client is None:
            return None  # the full path says why
        entry = storage.get(key)
        base = self._views.of(client)
        if entry is None or now >= entry.hot_until or not base.ready(entry):
            return None  # a large body's view is made on the full path, on a thread
        served = Served(verdicts.hit(entry, now, if_none_match, base), HIT)
        if if_none_match is None:
            until = verdicts.hit_until(entry, now)
            self._ready.keep(request, served, until=until, generation=storage.generation)
        return served

    async def answer(self, incoming: Incoming) -> Served:  # --- the leads listing ---
        refused = refusal(incoming, passthrough=False) or too_long(incoming.query)
        if refused is not None:
            return Served(verdicts.bypass(refused, no_key=False), BYPASS)
        token = bearer_token(incoming.head.authorization)
        if token is None:
            started = self._clock()
            reply = verdicts.bypass(await self._forward(incoming), no_key=True)
            return Served(reply, BYPASS, self._clock() - started)
        if (client := listing_of(incoming)) is None:
            return Served(verdicts.bypass(NOT_A_HOST, no_key=False), BYPASS)
        key = self.keys.key(token, incoming.query.decode("latin-1"))
        base = self._views.of(client)
        reply, x_cache, waited = await self._leads(incoming, key, base)
        return Served(reply, x_cache, waited)

    async def _leads(
        self, incoming: Incoming, key: CacheKey, base: Rebase
    ) -> tuple[Reply, str, float | None]:
        """The reply, its X-Cache label, and how long it waited on the upstream."""
        directives = Directives.parse(incoming.head.cache_control)
        if_none_match = incoming.head.if_none_match
        now = self._clock()
        entry = await self._local_or_shared(key, now)
        decision = decide(entry, now, directives, self.filler.cooldown_left(key.fingerprint, now))
        if isinstance(decision, Hit):
            await base.prepare(decision.entry)
            return verdicts.hit(decision.entry, now, if_none_match, base), HIT, None
        if isinstance(decision, Stale):
            if decision.refresh:
                self.filler.refresh(key, fill_headers(incoming))
            await base.prepare(decision.entry)
            return verdicts.stale(decision, now, if_none_match, base), STALE, None
        if isinstance(decision, CachedOnly):
            return verdicts.cached_only(), MISS, None
        if isinstance(decision, TooMany):
            return verdicts.too_many(decision), MISS, None

        outcome = await self.filler.flight(key, fill_headers(incoming))
        after = self._clock()
        settled = settle(
            outcome,
            self.storage.get(key),
            after,
            no_cache=isinstance(decision, Fetch) and decision.no_cache,
            fallback=self._fallback is not None,
        )
        if isinstance(settled, Fresh | Stale):
            await base.prepare(
                settled.filled.entry if isinstance(settled, Fresh) else settled.entry
            )
        reply = self._settled(settled, incoming, after, base)
        return reply, verdicts.label(settled), after - now

    async def _local_or_shared(self, key: CacheKey, now: float) -> Entry | None:
        """Our copy, or, past its hold, the shared layer's if newer (while ours answers)."""
        entry = self.storage.get(key)
        shared = self.shared
        if shared is None or (entry is not None and now < entry.hot_until):
            return entry
        if entry is not None and now < entry.fresh_until:
            self.filler.look_up(shared, key, entry, now)  # ours meanwhile; the layer's next
            return entry
        return await asyncio.shield(self.filler.look_up(shared, key, entry, now))

    def _settled(
        self, settled: Fresh | PassOn | Stale | TooMany | Fallback | Unserved, incoming: Incoming,
        now: float, base: Rebase,
    ) -> Reply:  # fmt: skip
        if_none_match = incoming.head.if_none_match
        if isinstance(settled, Fresh):
            return verdicts.fresh(settled, now, if_none_match, base)
        if isinstance(settled, PassOn):
            return verdicts.pass_on(settled.answer)
        if isinstance(settled, Stale):
            return verdicts.stale(settled, now, if_none_match, base)
        if isinstance(settled, TooMany):
            return verdicts.too_many(settled)
        if isinstance(settled, Fallback) and self._fallback is not None:
            reply = self._fallback.reply(incoming)
            if reply.status in {200, 304}:
                self.stats.fallback_served += 1
                return verdicts.from_fixtures(reply)
        return verdicts.unserved(settled.error)

    # --- the rest of the API ----------------------------------------------------

    async def forward(self, incoming: Incoming) -> Served:
        """Any other /api/ request: sent on as it is, answered as the upstream answers."""
        started = self._clock()
        refused = refusal(incoming, passthrough=True) or too_long(incoming.query)
        reply = refused or await self._forward(incoming)
        if refused is None and 200 <= reply.status < 300 and is_lead_write(incoming):
            await self._invalidate(incoming)
        reply = verdicts.bypass(reply, no_key=False)
        return Served(reply, BYPASS, self._clock() - started, forwarded=True)

    async def _forward(self, incoming: Incoming) -> Reply:
        self.stats.upstream_requests += 1
        try:
            answer = await send_on(self.filler.upstream, incoming)
        except UpstreamError as error:
            self.stats.upstream_error(error.kind)
            return verdicts.failed_forward(error)
        return verdicts.passed(answer)

    async def _invalidate(self, incoming: Incoming) -> None:
        token = bearer_token(incoming.head.authorization)
        if token is not None:
            self.stats.invalidations += 1
            await self._purge(self.keys.fingerprint(token))

    # --- operating it ------------------------------------------------------------

    async def purge(self, api_key: str | None = None) -> tuple[int, bool]:
        """Drop every entry, or one API key's: how many, and whether every process was told."""
        fingerprint = self.keys.fingerprint(api_key.encode()) if api_key else None
        return await self._purge(fingerprint)

    async def _purge(self, fingerprint: str | None) -> tuple[int, bool]:
        local = self._drop(fingerprint)
        if self.shared is None:
            return local, True
        shared = await self.shared.purge(fingerprint)
        return (local, False) if shared is None else (max(local, shared), True)

    def _drop(self, fingerprint: str | None) -> int:
        """Drop our copies (a purge here, or another process's)."""
        dropped = self.storage.purge(fingerprint)
        self.filler.gauges()
        return dropped

    def snapshot(self) -> dict[str, Any]:
        self.filler.gauges()
        totals = self.stats.totals()
        if self.shared is None:
            for name in SHARED_ONLY:
                del totals[name]
        else:
            totals["redis"] = "up" if totals["redis_up"] == totals["workers"] else "down"
            totals["redis_kind"] = str(self.shared.kind)
        return totals

    def cooling(self) -> list[dict[str, Any]]:
        """The keys this process holds back after a 429: fingerprint and seconds left."""
        now = self._clock()
        return [
            {"key": fingerprint, "seconds_left": round(until - now, 1)}
            for fingerprint, until in sorted(self.filler.cooldowns.shown().items())
            if until > now
        ]

    def ready(self, within: float = 60.0) -> tuple[bool, str]:
        """Whether this process can serve: the upstream answered lately, or the cache can."""
        last = self.filler.upstream.last_answer_at
        if last is not None and self._clock() - last < within:
            return True, "the upstream answered recently"
        if self.storage.entries:
            return True, "the cache holds answers to serve"
        return False, "no upstream answer yet and nothing cached"

    async def probe(self) -> None:
        """Ask the upstream anything, to learn whether it is reachable."""
        with contextlib.suppress(UpstreamError):
            await self.filler.upstream.request("GET", "/user/leads", headers=[("Accept", JSON)])

    async def start(self) -> None:
        """Start listening for purges by other processes; say once if Redis is down."""
        if self.shared is not None:
            if await (shared := self.shared).ping():
                log.info("redis: %s (%s) shared by this process", shared.where, shared.kind)
            self._listener = asyncio.get_running_loop().create_task(self.shared.listen(self._drop))

    async def close(self) -> None:
        self.filler.close()
        if self._listener is not None:
            self._listener.cancel()
        if self.shared is not None:
            await self.shared.close()
        await self.filler.upstream.close()
