"""The shared layer: one cache, one fill lock, one 429 cooldown and one
upstream budget for every leads-proxy process on a Redis (or Valkey) server.

What lives in Redis, and in what form, is `proxy.redis.format`'s.

Redis failing never fails a request: every call answers "unavailable" (None,
or `UNAVAILABLE`) instead of raising (`redis.link`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ...http.clock import Clock
from ...observe.stats import Stats
from ...settings import defaults
from ..cache import CacheKey, Entry
from ..layer import Claim, Cooling, Wait
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
)
from .link import WATCH_EVERY, Link

log = logging.getLogger("leads_proxy")
PURGE_WITHIN = 60.0  # seconds for a whole purge: one SCAN and DEL per 500 entries


class Shared:
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
        self.url = url
        self.timeout = timeout
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        # No retries inside the client: a failed call is answered at once
        # ("unavailable") and the watcher finds out when Redis is back.
        self._redis: Redis = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._claim = self._redis.register_script(CLAIM)
        self._release = self._redis.register_script(RELEASE)
        self._restore = self._redis.register_script(RESTORE)
        self._pace = self._redis.register_script(PACE)
        self.stats = stats or Stats()
        self._link = Link(self._redis, self.where, timeout=timeout, stats=self.stats, sleep=sleep)
        self._call = self._link.call

    @property
    def shift(self) -> float:
        """This process's clock to wall-clock time."""
        return self._wall() - self._clock()

    @property
    def where(self) -> str:
        """The server, for logs: host, port and db, never a password."""
        pool = self._redis.connection_pool.connection_kwargs
        if "path" in pool:
            return f"{pool['path']} (db {pool.get('db', 0)})"
        return f"{pool.get('host', '?')}:{pool.get('port', 6379)}/{pool.get('db', 0)}"

    # --- entries ----------------------------------------------------------------

    async def get(self, key: CacheKey, *, hold_until: float) -> Entry | None:
        """The shared entry, held in memory until `hold_until`; None if absent or down."""
        raw = await self._call(lambda: self._redis.get(entry_key(key)))
        if not isinstance(raw, bytes):
            return None
        entry = decode_entry(raw, shift=self.shift, hold_until=hold_until)
        if entry is None:
            log.warning("redis: a cache entry holds something that is not an entry; dropped")
            await self._call(lambda: self._redis.delete(entry_key(key)))
        return entry

    async def put(self, key: CacheKey, entry: Entry) -> bool:
        """Store a new entry until its last window closes; False if it was not stored."""
        left_ms = math.ceil((entry.error_until - self._clock()) * 1000)
        if left_ms <= 0:
            return False
        value = encode_entry(entry, shift=self.shift)
        done = await self._call(lambda: self._redis.set(entry_key(key), value, px=left_ms))
        return bool(done)

    async def restore(self, key: CacheKey, entry: Entry) -> bool:
        """Put back a copy Redis lost, if nothing newer and no purge came since."""
        left_ms = math.ceil((entry.error_until - self._clock()) * 1000)
        if left_ms <= 0:
            return False
        shift = self.shift
        done = await self._call(
            lambda: self._restore(
                keys=[entry_key(key), PURGED, f"{PURGED}:{key.fingerprint}"],
                args=[encode_entry(entry, shift=shift), repr(entry.stored_at + shift), left_ms],
            )
        )
        return bool(done)

    # --- filling: one upstream request for all processes ----------------------

    async def claim(self, key: CacheKey, *, token: str, hold: float) -> Claim | Cooling:
        """Take the fill lock for `hold` seconds, unless the key cools down or it is taken."""
        answer = await self._call(
            lambda: self._claim(
                keys=[cooldown_key(key.fingerprint), lock_key(key)],
                args=[token, max(1, math.ceil(hold * 1000))],
            )
        )
        if answer is None:
            return Claim.UNAVAILABLE
        state, millis = int(answer[0]), int(answer[1])
        if state == 2:
            return Cooling(millis / 1000)
        return Claim.MINE if state == 0 else Claim.TAKEN

    async def release(self, key: CacheKey, token: str) -> None:
        await self._call(lambda: self._release(keys=[lock_key(key)], args=[token]))

    async def wait_for_fill(
        self, key: CacheKey, *, until: float, hold_until: float
    ) -> Entry | Cooling | Wait:
        """Poll until another process's fill lands: a fresh entry, a cooldown, or why not."""
        delay = 0.005
        while True:
            await self._sleep(delay)
            delay = min(delay * 1.5, 0.05)
            answers = await self._call(lambda: self._poll(key))
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
        return await pipe.execute()

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(8)

    # --- rate limits ------------------------------------------------------------

    async def cool_down(self, fingerprint: str, seconds: float) -> None:
        """Make every process wait `seconds` before asking for this API key again."""
        millis = math.ceil(seconds * 1000)
        if millis > 0:
            await self._call(lambda: self._redis.set(cooldown_key(fingerprint), b"1", px=millis))

    async def pace(self, interval: float) -> float | None:
        """Seconds to wait for this process's upstream slot; None if Redis is down."""
        micros = await self._call(lambda: self._pace(keys=[PACE_KEY], args=[round(interval * 1e6)]))
        return None if micros is None else int(micros) / 1e6

    # --- purging ----------------------------------------------------------------

    async def purge(self, fingerprint: str | None) -> int | None:
        """Delete every entry, or one API key's, and tell every process; None if down."""
        pattern = entries_pattern(fingerprint)

        async def delete_all() -> int:
            tombstone = PURGED if fingerprint is None else f"{PURGED}:{fingerprint}"
            await self._redis.set(tombstone, repr(self._wall()), px=TOMBSTONE_MS)
            deleted = 0
            async for batch in _batches(self._redis.scan_iter(match=pattern, count=500), 500):
                deleted += int(await self._redis.delete(*batch))
            await self._redis.publish(PURGE_CHANNEL, fingerprint or "*")
            return deleted

        return await self._call(delete_all, within=PURGE_WITHIN)

    async def listen(self, on_purge: Callable[[str | None], object]) -> None:
        """Apply purges announced by any process, for as long as the process runs."""
        while not self._link.closed:
            listener = Redis.from_url(
                self.url, socket_connect_timeout=self.timeout, retry=Retry(NoBackoff(), 0)
            )
            try:
                async with listener.pubsub(ignore_subscribe_messages=True) as channel:
                    await channel.subscribe(PURGE_CHANNEL)
                    while not self._link.closed:
                        message = await channel.get_message(timeout=1.0)
                        if message is not None:
                            text = bytes(message["data"]).decode("ascii", "replace")
                            on_purge(None if text == "*" else text)
            except (RedisError, OSError):
                await self._sleep(WATCH_EVERY)
            finally:
                await listener.aclose()

    # --- being up or down ---------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._link.available

    @available.setter
    def available(self, value: bool) -> None:
        self._link.available = value

    async def ping(self) -> bool:
        """Whether Redis answers now (at start: says so once if it does not)."""
        return await self._call(self._redis.ping) is not None

    async def close(self) -> None:
        await self._link.close()


async def _batches(items: Any, size: int) -> Any:
    batch: list[Any] = []
    async for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
