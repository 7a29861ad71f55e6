"""One leads-proxy process's session with Redis: the client for the kind of Redis
the URL names (`redis.connect`), the link that says whether it answers
(`redis.link`), and the purge channel every process listens on.

`Shared` builds on it; nothing here knows what the keys hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoPermissionError

from ...observe.stats import Stats
from .connect import UNKNOWN, Client, Connector, Kind, detect
from .format import PURGE_CHANNEL
from .link import FAILURES, WATCH_EVERY, Link

T = TypeVar("T")


class Session:
    """The client, whether it answers, and the purge channel."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        stats: Stats | None = None,
    ) -> None:
        self.timeout = timeout
        self._sleep = sleep
        self._connector = Connector(url, timeout=timeout)
        self.kind: Kind = UNKNOWN
        self._use(self._connector.first())
        self.stats = stats or Stats()
        self._link = Link(
            self.where,
            revive=self._revive,
            close=self._close,
            timeout=timeout,
            stats=self.stats,
            sleep=sleep,
            recover=self._fresh if self._connector.target.sentinel else None,
        )

    def _use(self, client: Client) -> None:
        """Talk to Redis through `client` from now on."""
        self._redis: Any = client

    @property
    def where(self) -> str:
        """The server, for logs: host, port and db, never a password."""
        return self._connector.where

    def _call(
        self,
        call: Callable[[], Awaitable[T]],
        *,
        key: str | None = None,
        node: str | None = None,
        within: float | None = None,
    ) -> Awaitable[T | None]:
        """One call through the link, to the node of `key` (or `node`) on a cluster."""
        return self._link.call(call, within=within, node=node or self._node(key))

    def _node(self, key: str | None) -> str | None:
        if key is None or not isinstance(self._redis, RedisCluster):
            return None
        try:
            found = self._redis.get_node_from_key(key)
        except FAILURES:  # no slots known yet: the cluster client finds them on the call
            return None
        return None if found is None else str(found.name)

    def _holders(self, tagged: str | None) -> list[Any]:
        """The nodes to scan: the one holding `tagged`'s slot, or every master of a
        cluster; [None] (the one server) otherwise."""
        if not isinstance(self._redis, RedisCluster):
            return [None]
        if tagged is not None:
            try:
                return [self._redis.get_node_from_key(tagged)]
            except FAILURES:
                return [None]
        masters: list[Any] = self._redis.get_primaries()
        return masters or [None]

    async def _publish(self, text: str) -> None:
        if isinstance(self._redis, RedisCluster):  # a cluster passes it on to every node
            node = self._redis.get_node_from_key(PURGE_CHANNEL)
            await self._redis.execute_command("PUBLISH", PURGE_CHANNEL, text, target_nodes=node)
        else:
            await self._redis.publish(PURGE_CHANNEL, text)

    async def listen(self, on_purge: Callable[[str | None], object]) -> None:
        """Apply purges announced by any process, for as long as the process runs."""
        attempt = 0
        while not self._link.closed:
            listener = self._listener(attempt)
            attempt += 1
            try:
                async with listener.pubsub(ignore_subscribe_messages=True) as channel:
                    await channel.subscribe(PURGE_CHANNEL)
                    while not self._link.closed:
                        message = await channel.get_message(timeout=1.0)
                        if message is not None:
                            text = bytes(message["data"]).decode("ascii", "replace")
                            on_purge(None if text == "*" else text)
            except NoPermissionError as error:
                self._link.refused(error)
                await self._sleep(WATCH_EVERY)
            except FAILURES:
                await self._sleep(WATCH_EVERY)
            finally:
                await listener.aclose()

    def _listener(self, attempt: int) -> Redis:
        """A client for the purge channel: on a cluster each master in turn (a
        publish reaches every node), else the server (a Sentinel service's master)."""
        if isinstance(self._redis, RedisCluster):
            masters = self._redis.get_primaries()
            if masters:
                node = masters[attempt % len(masters)]
                return self._connector.plain(host=node.host, port=int(node.port), reads=None)
        return self._connector.first(reads=None)

    @property
    def available(self) -> bool:
        return self._link.available

    @available.setter
    def available(self, value: bool) -> None:
        self._link.available = value

    async def ping(self) -> bool:
        """Whether Redis answers now, finding out first what kind it is (at start: says
        so once if it does not answer)."""
        return await self._call(self._connect) is not None

    async def _connect(self) -> bool:
        if self.kind is UNKNOWN:
            try:
                self.kind = await detect(self._redis, self._connector)
            except NoPermissionError as error:
                self._link.refused(error)
                self.kind = Kind("single")
            if self.kind.name == "cluster":
                plain, cluster = self._redis, self._connector.cluster()
                self._use(cluster)
                await plain.aclose()
                await cluster.initialize()
        if isinstance(self._redis, RedisCluster):
            await self._redis.execute_command("PING", target_nodes=RedisCluster.RANDOM)
        else:
            await self._redis.ping()
        return True

    async def _fresh(self) -> None:
        """Drop every connection: the next ones ask the sentinels where the master is."""
        await self._redis.connection_pool.disconnect()

    async def _revive(self) -> None:
        """Start afresh after an outage: connections from before it are dead (and a
        Sentinel service's master may have moved)."""
        if not isinstance(self._redis, RedisCluster):
            await self._fresh()
        await self._connect()

    async def _close(self) -> None:
        await self._redis.aclose()
        await self._connector.close()

    async def close(self) -> None:
        await self._link.close()
