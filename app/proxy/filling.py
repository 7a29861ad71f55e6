"""Filling the cache: the one upstream request per key, and what it came to.

For one key, at most one fill is on its way in this process (single flight:
concurrent misses and background refreshes share it), and at most one Redis
lookup. With a shared layer, a fill first takes the layer's lock, so that one
process asks the upstream while the others wait for its entry; a 429 seen
by one process makes every process wait. Recording (record mode) happens
here too, on the 200s the upstream sends.
The shared layer is a `SharedLayer`: `proxy.redis.shared.Shared`, or a typed fake.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from ..fixtures.record import Recorder
from ..http.clock import Clock
from ..http.encoding import gzip_of
from ..http.etag import etag_of
from ..http.keys import bearer_token
from ..observe.history import History
from ..observe.stats import Stats
from ..settings import defaults
from .cache import CacheKey, Entry
from .cooldowns import Cooldowns, shown
from .exchange import Answer, UpstreamError, UpstreamUnavailable, cache_control_of
from .flights import one_per_key
from .layer import Claim, Cooling, SharedLayer, Wait
from .policy import Failed, Filled, Limited, Outcome, Passed, cooldown_until
from .storage import MemoryStorage
from .upstream import Upstream

log = logging.getLogger("leads_proxy")
JSON = "application/json"
THREAD_GZIP = 64 * 1024  # bodies from this size are gzipped on a thread


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    ttl: float = defaults.TTL
    stale_while_revalidate: float = defaults.STALE_WHILE_REVALIDATE
    stale_if_error: float = defaults.STALE_IF_ERROR
    max_entry_bytes: int = defaults.MAX_ENTRY_BYTES
    max_cooldown: float = defaults.MAX_COOLDOWN


class Filler:
    """Asks the upstream for the leads listing, once per key at a time, and stores the answer."""

    def __init__(
        self,
        *,
        upstream: Upstream,
        storage: MemoryStorage,
        config: ProxyConfig,
        stats: Stats,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        shared: SharedLayer | None = None,
        hold: float = defaults.LOCAL_TTL,
        recorder: Recorder | None = None,
        history: History | None = None,
    ) -> None:
        self.upstream = upstream
        self.storage = storage
        self.config = config
        self.stats = stats
        self.shared = shared
        # How long a hit is answered from memory before the shared layer is
        # asked for a newer copy; alone, nothing newer can exist elsewhere.
        self.hold = hold if shared is not None else math.inf
        self._clock = clock
        self._wall = wall
        self._recorder = recorder
        self._flights: dict[CacheKey, asyncio.Task[Outcome]] = {}
        self._lookups: dict[CacheKey, asyncio.Task[Entry | None]] = {}
        self.cooldowns = Cooldowns()
        self.history = history  # per-second counts for the status page

    # --- single flight ------------------------------------------------------------

    def flight(self, key: CacheKey, headers: dict[str, str]) -> asyncio.Future[Outcome]:
        """The one upstream request for this key, started now or already on its way.

        Waiters get it shielded: a client that goes away cancels only its own
        wait, never the request the others wait on.
        """
        task = self._flights.get(key)
        if task is None:
            task = one_per_key(self._flights, key, self._fill(key, headers))
        else:
            self.stats.collapsed_waiters += 1
        return asyncio.shield(task)

    def refresh(self, key: CacheKey, headers: dict[str, str]) -> None:
        """Start a background refresh, unless one is already on its way."""
        if key in self._flights:
            return
        self.stats.background_refreshes += 1
        self.flight(key, headers)

    def cooldown_left(self, fingerprint: str, now: float) -> float:
        return self.cooldowns.left(fingerprint, now)

    # --- the shared layer ---------------------------------------------------------

    def look_up(
        self, shared: SharedLayer, key: CacheKey, entry: Entry | None, now: float
    ) -> asyncio.Task[Entry | None]:
        """The one shared-layer lookup for this key, started now or already on its way."""
        task = self._lookups.get(key)
        if task is None:
            task = one_per_key(self._lookups, key, self._from_shared(shared, key, entry, now))
        return task

    async def _from_shared(
        self, shared: SharedLayer, key: CacheKey, entry: Entry | None, now: float
    ) -> Entry | None:
        """A newer copy from the layer if it has one; else ours, held in memory a while longer."""
        found = await shared.get(key, hold_until=now + self.hold)
        if found is not None and (entry is None or found.stored_at >= entry.stored_at):
            self.stats.shared_hits += 1
            self._store(key, found)
            return found
        if entry is None or entry.state(now) is None:
            return entry
        # The layer lost it (restarted, evicted): ours refills it, unless another
        # process's fill or a purge got there first. The layer down: ours it is,
        # and no purge can come from anyone until it is back.
        if found is None and shared.available:
            await shared.restore(key, entry)
        held = entry.held(now + self.hold)
        self.storage.put(key, held)
        return held

    async def _fill(self, key: CacheKey, headers: dict[str, str]) -> Outcome:
        """The outcome of one fill: asked of the upstream here, or by another process."""
        shared = self.shared
        if shared is None:
            return await self._fetch(key, headers)
        known = self.storage.get(key)
        since = -math.inf if known is None else known.stored_at
        token = shared.new_token()
        claim = await self._claim(shared, key, token, headers)
        if not isinstance(claim, Claim):
            return claim  # another process's fill, or its cooldown, came to this
        try:
            if claim is Claim.MINE and (landed := await self._landed(shared, key, since)):
                return Filled(landed, stored=True, by_peer=True)
            outcome = await self._fetch(key, headers)
            if isinstance(outcome, Filled) and outcome.stored:
                await shared.put(key, outcome.entry)
            elif isinstance(outcome, Limited):
                await shared.cool_down(key.fingerprint, outcome.until - self._clock())
        finally:
            if claim is Claim.MINE:
                await shared.release(key, token)
        return outcome

    async def _claim(
        self, shared: SharedLayer, key: CacheKey, token: str, headers: dict[str, str]
    ) -> Claim | Outcome:
        """The fill lock (or the word to ask alone), else what the holder's fill came to."""
        hold = self.upstream.timeout + 1.0  # a lock left by a dead process expires
        until = self._clock() + hold
        while True:
            claim = await shared.claim(key, token=token, hold=hold)
            if isinstance(claim, Cooling):
                return self._cool(key, claim.seconds, headers)
            if claim is not Claim.TAKEN:
                return claim
            self.stats.shared_waits += 1
            hold_until = self._clock() + self.hold
            waited = await shared.wait_for_fill(key, until=until, hold_until=hold_until)
            if isinstance(waited, Entry):
                self._store(key, waited)
                return Filled(waited, stored=True, by_peer=True)
            if isinstance(waited, Cooling):
                return self._cool(key, waited.seconds, headers)
            if waited is not Wait.RELEASED:
                return claim  # the layer went away, or the other process is too slow: ask alone
            # The other process's fill failed: stand in with the last good copy
            # if there is one; if not, try to take the lock and ask ourselves.
            entry = self.storage.get(key)
            if entry is not None and entry.state(self._clock()) is not None:
                failed = "another process's request to the upstream failed"
                return Failed(UpstreamUnavailable(failed))

    async def _landed(self, shared: SharedLayer, key: CacheKey, since: float) -> Entry | None:
        """A peer's fill that landed (and let go of the lock) between our lookup and our
        claim: fresh, and newer than our copy (so a client's no-cache still asks)."""
        now = self._clock()
        found = await shared.get(key, hold_until=now + self.hold)
        if found is None or found.stored_at <= since or now >= found.fresh_until:
            return None
        self._store(key, found)
        return found

    def _cool(self, key: CacheKey, seconds: float, headers: dict[str, str]) -> Limited:
        """Another process was told to wait: this one waits as long (within the cap)."""
        until = self._clock() + min(seconds, self.config.max_cooldown)
        self.cooldowns.hold(key, until, headers["Authorization"])
        return Limited(None, until)

    # --- the upstream -------------------------------------------------------------

    async def _fetch(self, key: CacheKey, headers: dict[str, str]) -> Outcome:
        """Ask the upstream for the key's canonical query: the key is what is forwarded."""
        self.stats.upstream_requests += 1
        query = key.query
        asked = time.perf_counter()
        try:
            answer = await self.upstream.fetch_leads(query, headers)
        except UpstreamError as error:
            if self.history is not None:
                self.history.upstream(time.perf_counter() - asked)
            self.stats.upstream_error(error.kind)
            log.warning("upstream: %s (key %s)", error, shown(headers["Authorization"]))
            return Failed(error)
        if self.history is not None:
            self.history.upstream(time.perf_counter() - asked)
        now = self._clock()
        if answer.status == 200:
            await self._record(query, answer.body, headers["Authorization"])
            body = answer.body
            # gzip is made once per fill; a large body on a thread, not holding the loop
            gzipped = (
                gzip_of(body) if len(body) < THREAD_GZIP else await asyncio.to_thread(gzip_of, body)
            )
            entry = self._entry(answer, now, gzipped)
            stored = len(answer.body) <= self.config.max_entry_bytes and self._store(key, entry)
            return Filled(entry, stored)
        if answer.status == 429:
            self.stats.upstream_error("rate_limited")
            until = cooldown_until(
                answer.header("retry-after"),
                now=now,
                wall=self._wall(),
                cap=self.config.max_cooldown,
            )
            authorization = headers["Authorization"]
            self.cooldowns.hold(key, until, authorization)
            log.warning("upstream: 429, key %s waits %.0f s", shown(authorization), until - now)
            return Limited(answer, until)
        return Passed(answer)

    async def _record(self, query: str, body: bytes, authorization: str) -> None:
        """Write a 200 as a fixture, on a thread: validating, anonymizing and writing
        thousands of leads would hold the loop, and every other request with it."""
        if self._recorder is None:
            return
        token = bearer_token(authorization.encode("latin-1")) or b""
        try:
            await asyncio.to_thread(self._recorder.record, query, body, token)
        except OSError as error:  # a full disk must not stop the proxy from serving
            log.warning("not recorded: %s", error.strerror or error)

    def _entry(self, answer: Answer, now: float, gzipped: bytes | None) -> Entry:
        config = self.config
        fresh_until = now + config.ttl
        return Entry.build(
            answer.body,
            etag=etag_of(answer.body),
            content_type=(answer.header("content-type") or JSON).encode("latin-1"),
            stored_at=now,
            fresh_until=fresh_until,
            stale_until=fresh_until + config.stale_while_revalidate,
            error_until=fresh_until + max(config.stale_if_error, config.stale_while_revalidate),
            hot_until=now + self.hold,
            gzipped=gzipped,
            cache_control=cache_control_of(answer),
        )

    def _store(self, key: CacheKey, entry: Entry) -> bool:
        stored = self.storage.put(key, entry)
        self.gauges()
        return stored

    def gauges(self) -> None:
        """Bring the cache's gauges up to date."""
        stats = self.stats
        stats.entries = self.storage.entries
        stats.bytes = self.storage.bytes
        stats.keys_cooling_down = self.cooldowns.count(self._clock())

    async def drain(self) -> None:
        """Wait for the fills and lookups on their way now (shutdown, tests)."""
        running = [*self._flights.values(), *self._lookups.values()]
        await asyncio.gather(*running, return_exceptions=True)

    def close(self) -> None:
        for task in [*self._flights.values(), *self._lookups.values()]:
            task.cancel()
        if self._recorder is not None:
            self._recorder.flush()
