"""Being up or down: every Redis call made through one link that never raises.

A call that fails answers None; the link then marks itself down, logs it
once, answers None at once without trying, and a watcher pings Redis until it
answers, when the link is up again (and says so, once). Redis full
(maxmemory) is not down: it is counted and told once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError, RedisError

from ...observe.stats import Stats

log = logging.getLogger("leads_proxy")
WATCH_EVERY = 1.0  # seconds between pings while Redis is down
T = TypeVar("T")


class Link:
    """One Redis client, and whether it answers."""

    def __init__(
        self,
        redis: Redis,
        where: str,
        *,
        timeout: float,
        stats: Stats,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self.where = where
        self.timeout = timeout
        self.stats = stats
        self._sleep = sleep
        self.stats.redis_up = 1
        self.available = True
        self._watcher: asyncio.Task[None] | None = None
        self.closed = False
        self._full_told = False

    async def call(
        self, call: Callable[[], Awaitable[T]], *, within: float | None = None
    ) -> T | None:
        """Make one Redis call; None, and the layer marked down, if it fails.

        Each command is bounded by the socket timeout; `within` bounds the
        whole call, for the few that take many commands (a purge).
        """
        if not self.available:
            return None
        try:
            async with asyncio.timeout(within or self.timeout * 2):
                return await call()
        except OutOfMemoryError:
            # Full (maxmemory with noeviction), not down: reads and locks go on.
            self.stats.redis_full += 1
            if not self._full_told:
                self._full_told = True
                log.warning(
                    "redis: %s is full (maxmemory) and refuses writes; entries stay in "
                    "this process's memory until it has room",
                    self.where,
                )
            return None
        except (RedisError, OSError, TimeoutError) as error:
            self.stats.redis_errors += 1
            self._down(error)
            return None

    def _down(self, error: BaseException) -> None:
        if not self.available:
            return
        self.available = False
        self.stats.redis_up = 0
        self.stats.redis_outages += 1
        log.warning(
            "redis: %s unavailable (%s); serving from this process's memory and the "
            "upstream until it answers again",
            self.where,
            type(error).__name__,
        )
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while not self.closed:
            await self._sleep(WATCH_EVERY)
            try:
                async with asyncio.timeout(self.timeout * 2):
                    # Connections from before the outage are dead: start afresh,
                    # or the first calls after the return would fail on them.
                    await self._redis.connection_pool.disconnect()
                    await self._redis.ping()
            except (RedisError, OSError, TimeoutError):
                self.stats.redis_errors += 1
                continue
            self.available = True
            self.stats.redis_up = 1
            log.warning("redis: %s is back; sharing the cache again", self.where)
            return

    async def close(self) -> None:
        self.closed = True
        if self._watcher is not None:
            self._watcher.cancel()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()
