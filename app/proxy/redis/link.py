"""Being up or down: every Redis call made through one link that never raises.

A call that fails answers None; the link then marks itself down, logs it
once (with why: refused, TLS, a wrong password), answers None at once
without trying, and a watcher revives the client until Redis answers, when
the link is up again (and says so, once). On a cluster a call names the node
it goes to: a node that fails is down alone, for `WATCH_EVERY` seconds at a
time, and only the keys in its slots wait. Redis full (maxmemory) is not
down, nor is a user without a permission: each is counted and told once.
With Sentinel a call whose connection fails is tried once more on a fresh
one first (the master may have moved: a failover costs no outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import ssl
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import redis
from redis.exceptions import (
    AuthenticationError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError

from ...http.clock import Clock
from ...observe.stats import Stats

log = logging.getLogger("leads_proxy")
WATCH_EVERY = 1.0  # seconds between tries while Redis (or a cluster node) is down
FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError)
_TLS = re.compile(r"\[SSL(?:: [A-Z_]+)?\] ([^(]+?)\s*\(")
T = TypeVar("T")
REDIS_PY = str(Path(redis.__file__).parent) + os.sep  # redis-py's own files (not ours)


class Link:
    """Whether Redis answers, as a whole and node by node."""

    def __init__(
        self,
        where: str,
        *,
        revive: Callable[[], Awaitable[object]],
        close: Callable[[], Awaitable[None]],
        timeout: float,
        stats: Stats,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Clock = time.monotonic,
        recover: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.where = where
        self._recover = recover  # a quick fresh start to try once before going down
        self._revive = revive  # a fresh start on the server; raises while it is down
        self._close = close
        self.timeout = timeout
        self.stats = stats
        self._sleep = sleep
        self._clock = clock
        self.stats.redis_up = 1
        self.available = True
        self._watcher: asyncio.Task[None] | None = None
        self.closed = False
        self._full_told = False
        self._refused_told: set[str] = set()
        self._nodes_down: dict[str, float] = {}  # cluster node -> when to try it again

    async def call(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        within: float | None = None,
        node: str | None = None,
    ) -> T | None:
        """Make one Redis call; None, and the layer (or `node`) marked down, if it fails.

        Each command is bounded by the socket timeout; `within` bounds the
        whole call, for the few that take many commands (a purge).
        """
        if not self.available:
            return None
        if node is not None and self._nodes_down.get(node, -1.0) > self._clock():
            return None
        try:
            async with asyncio.timeout(within or self.timeout * 2):
                try:
                    answer = await call()
                except (ConnectionError, RedisConnectionError, ReadOnlyError):
                    if self._recover is None:
                        raise
                    await self._recover()  # a Sentinel service's master moved: ask again
                    answer = await call()
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
        except NoPermissionError as error:
            self.stats.redis_errors += 1
            self.refused(error)
            return None
        except (*FAILURES, AttributeError) as error:
            if isinstance(error, AttributeError) and not _inside_redis(error):
                raise
            self.stats.redis_errors += 1
            if node is not None:
                self._node_down(node, error)
            else:
                self._down(error)
            return None
        if node is not None and self._nodes_down.pop(node, None) is not None:
            log.warning("redis: cluster node %s is back; sharing its keys again", node)
        return answer

    def refused(self, error: NoPermissionError) -> None:
        """A command the Redis user may not run: told once per command, never down."""
        said = str(error)
        if said not in self._refused_told and len(self._refused_told) < 100:
            self._refused_told.add(said)
            log.warning(
                "redis: %s refused a command: %s; grant the ACL docs/proxy.md lists "
                "(that part of the sharing is skipped)",
                self.where,
                said,
            )

    def _node_down(self, node: str, error: BaseException) -> None:
        if node not in self._nodes_down:
            log.warning(
                "redis: cluster node %s unavailable (%s); the keys in its slots are served "
                "from this process's memory and the upstream until it answers again",
                node,
                reason(error),
            )
        self._nodes_down[node] = self._clock() + WATCH_EVERY

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
            reason(error),
        )
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while not self.closed:
            await self._sleep(WATCH_EVERY)
            try:
                async with asyncio.timeout(self.timeout * 2):
                    await self._revive()
            except NoPermissionError as error:
                self.refused(error)
            except FAILURES:
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
        with contextlib.suppress(*FAILURES):
            await self._close()


def reason(error: BaseException) -> str:
    """Why a call failed, in a few words and never with a secret: TLS and credentials
    are said, anything else is its kind."""
    said = str(error)
    if isinstance(error, AuthenticationError) or "WRONGPASS" in said:
        return "wrong user or password"
    if found := _TLS.search(said):
        return f"TLS: {found[1]}"
    if "SSL" in said or isinstance(error, ssl.SSLError):
        return "TLS handshake failed"
    return type(error).__name__


def _inside_redis(error: BaseException) -> bool:
    """Whether `error` came from inside redis-py: its cluster client can meet a
    connection closed under it by another task (`None.writelines`), a lost
    connection in all but name."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(REDIS_PY)
