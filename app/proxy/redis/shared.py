"""The shared layer: one cache, one fill lock, one 429 cooldown and one
upstream budget for every leads-proxy process on a Redis (or Valkey) server.

What lives in Redis, and in what form, is `proxy.redis.format`'s; which
client talks to it (one server, a cluster, a Sentinel service) `redis.connect`'s.

Redis failing never fails a request: every call answers "unavailable" (None,
or `UNAVAILABLE`) instead of raising (`redis.link`). On a cluster each call
names the node of its key, so a node down holds back only its own keys.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio.cluster import RedisCluster

from ...http.clock import Clock
from ...observe.stats import Stats
from ...settings import defaults
from ..cache import CacheKey, Entry
from ..layer import Claim, Cooling, Wait
from .connect import Client
from .format import (
    CLAIM,
    PACE,
    PACE_KEY,
    PURGE_CHANNEL,
    PURGED,
    RELEASE,
    RESTORE,
    TOMBSTONE_MS,
    cooldown_key,
    decode_entry,
    encode_entry,
    entries_pattern,
    entry_key,
    lock_key,
    purged_key,
)
from .session import Session

log = logging.getLogger("leads_proxy")
PURGE_WITHIN = 60.0  # seconds for a whole purge: one SCAN and DEL per 500 entries


class Shared(Session):
    """The proxy's view of Redis: entries, locks, cooldowns, pacing, purges."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = defaults.CACHE_TIMEOUT,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stats: Stats | None = None,
    ) -> None:
        self._clock = clock
        self._wall = wall
        super().__init__(url, timeout=timeout, sleep=sleep, stats=stats)

    def _use(self, client: Client) -> None:
        super()._use(client)
        self._claim = client.register_script(CLAIM)
        self._release = client.register_script(RELEASE)
        self._restore = client.register_script(RESTORE)
        self._pace = client.register_script(PACE)

    @property
    def shift(self) -> float:
        """This process's clock to wall-clock time."""
        return self._wall() - self._clock()

    # --- entries ----------------------------------------------------------------

    async def get(self, key: CacheKey, *, hold_until: float) -> Entry | None:
        """The shared entry, held in memory until `hold_until`; None if absent or down."""
        name = entry_key(key)
        raw = await self._call(lambda: self._redis.get(name), key=name)
        if not isinstance(raw, bytes):
            return None
        entry = decode_entry(raw, shift=self.shift, hold_until=hold_until)
        if entry is None:
            log.warning("redis: a cache entry holds something that is not an entry; dropped")
            await self._call(lambda: self._redis.delete(name), key=name)
        return entry

    async def put(self, key: CacheKey, entry: Entry) -> bool:
        """Store a new entry until its last window closes; False if it was not stored."""
        left_ms = math.ceil((entry.error_until - self._clock()) * 1000)
        if left_ms <= 0:
            return False
        value, name = encode_entry(entry, shift=self.shift), entry_key(key)
        done = await self._call(lambda: self._redis.set(name, value, px=left_ms), key=name)
        return bool(done)

    async def restore(self, key: CacheKey, entry: Entry) -> bool:
        """Put back a copy Redis lost, if nothing newer and no purge came since.

        The global purge time is read before (a cluster keeps it in another slot
        than the entry) and after: a purge of everything that began meanwhile
        takes the copy out again, or its own scan finds it.
        """
        left_ms = math.ceil((entry.error_until - self._clock()) * 1000)
        if left_ms <= 0:
            return False
        shift, name = self.shift, entry_key(key)
        made = entry.stored_at + shift
        purged = await self._purged()
        if purged is None or made <= purged:
            return False
        done = await self._call(
            lambda: self._restore(
                keys=[name, purged_key(key.fingerprint)],
                args=[encode_entry(entry, shift=shift), repr(made), left_ms, repr(purged)],
            ),
            key=name,
        )
        if not done:
            return False
        after = await self._purged()
        if after is None or made <= after:
            await self._call(lambda: self._redis.delete(name), key=name)
            return False
        return True

    async def _purged(self) -> float | None:
        """When everything was last purged (0.0: never); None if that cannot be read."""

        async def read() -> tuple[bytes | None]:
            return (await self._redis.get(PURGED),)

        answer = await self._call(read, key=PURGED)
        if answer is None:
            return None
        try:
            return float(answer[0] or 0)
        except ValueError:
            return 0.0

    # --- filling: one upstream request for all processes ----------------------

    async def claim(self, key: CacheKey, *, token: str, hold: float) -> Claim | Cooling:
        """Take the fill lock for `hold` seconds, unless the key cools down or it is taken."""
        lock = lock_key(key)
        answer = await self._call(
            lambda: self._claim(
                keys=[cooldown_key(key.fingerprint), lock],
                args=[token, max(1, math.ceil(hold * 1000))],
            ),
            key=lock,
        )
        if answer is None:
            return Claim.UNAVAILABLE
        state, millis = int(answer[0]), int(answer[1])
        if state == 2:
            return Cooling(millis / 1000)
        return Claim.MINE if state == 0 else Claim.TAKEN

    async def release(self, key: CacheKey, token: str) -> None:
        lock = lock_key(key)
        await self._call(lambda: self._release(keys=[lock], args=[token]), key=lock)

    async def wait_for_fill(
        self, key: CacheKey, *, until: float, hold_until: float
    ) -> Entry | Cooling | Wait:
        """Poll until another process's fill lands: a fresh entry, a cooldown, or why not."""
        delay = 0.005
        while True:
            await self._sleep(delay)
            delay = min(delay * 1.5, 0.05)
            answers = await self._call(lambda: self._poll(key), key=lock_key(key))
            if answers is None:
                return Wait.UNAVAILABLE
            raw, locked, cooling = answers
            now = self._clock()
            if isinstance(raw, bytes):
                entry = decode_entry(raw, shift=self.shift, hold_until=hold_until)
                if entry is not None and now < entry.fresh_until:
                    return entry
            if int(cooling) > 0:
                return Cooling(int(cooling) / 1000)
            if not locked:
                return Wait.RELEASED
            if now >= until:
                return Wait.TIMED_OUT

    async def _poll(self, key: CacheKey) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(entry_key(key))
        pipe.exists(lock_key(key))
        pipe.pttl(cooldown_key(key.fingerprint))
        answers: list[Any] = await pipe.execute()
        return answers

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(8)

    # --- rate limits ------------------------------------------------------------

    async def cool_down(self, fingerprint: str, seconds: float) -> None:
        """Make every process wait `seconds` before asking for this API key again."""
        millis = math.ceil(seconds * 1000)
        if millis > 0:
            name = cooldown_key(fingerprint)
            await self._call(lambda: self._redis.set(name, b"1", px=millis), key=name)

    async def pace(self, interval: float) -> float | None:
        """Seconds to wait for this process's upstream slot; None if Redis is down."""
        micros = await self._call(
            lambda: self._pace(keys=[PACE_KEY], args=[round(interval * 1e6)]), key=PACE_KEY
        )
        return None if micros is None else int(micros) / 1e6

    # --- purging ----------------------------------------------------------------

    async def purge(self, fingerprint: str | None) -> int | None:
        """Delete every entry, or one API key's, and tell every process; None if that did
        not reach every entry (Redis, or a cluster node, down)."""
        tombstone = PURGED if fingerprint is None else purged_key(fingerprint)
        stamp = repr(self._wall())
        marked = await self._call(
            lambda: self._redis.set(tombstone, stamp, px=TOMBSTONE_MS), key=tombstone
        )
        if marked is None:
            return None
        pattern, deleted, missed = entries_pattern(fingerprint), 0, False
        for node in self._holders(tombstone if fingerprint else None):
            count = await self._call(
                lambda node=node: self._delete_matching(pattern, node),  # type: ignore[misc]
                within=PURGE_WITHIN,
                node=None if node is None else str(node.name),
            )
            missed = missed or count is None
            deleted += count or 0
        await self._call(lambda: self._publish(fingerprint or "*"), key=PURGE_CHANNEL)
        return None if missed else deleted

    async def _delete_matching(self, pattern: str, node: Any) -> int:
        on = {} if node is None else {"target_nodes": node}
        deleted = 0
        async for batch in _batches(self._redis.scan_iter(match=pattern, count=500, **on), 500):
            if isinstance(self._redis, RedisCluster):  # one slot per API key: DEL by slot
                deleted += sum([int(await self._redis.delete(*keys)) for keys in _by_tag(batch)])
            else:
                deleted += int(await self._redis.delete(*batch))
        return deleted


def _by_tag(names: list[bytes]) -> list[list[bytes]]:
    """Entry names grouped by their hash tag (`{fingerprint}`): one slot each."""
    groups: dict[bytes, list[bytes]] = {}
    for name in names:
        groups.setdefault(name.partition(b"{")[2].partition(b"}")[0], []).append(name)
    return list(groups.values())


async def _batches(items: Any, size: int) -> Any:
    batch: list[Any] = []
    async for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
