"""Clients for the Redis a `--cache-url` names: one server, a cluster, or a
Sentinel service, with TLS where asked.

A `redis://` (or `rediss://`) server is asked `CLUSTER SLOTS` once it
answers: a cluster gets redis-py's cluster client (the URL's node is only the
first one asked), a server without cluster support the plain client. Every
TLS connection shares one context, made once (`settings.redis_url`). No client
retries on its own: a failed call is answered at once and `redis.link` decides.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
)
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelManagedSSLConnection
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError, ResponseError

from ...settings.redis_url import RedisTarget, parse_redis_url, tls_context

Client = Redis | RedisCluster
NO_RETRY = Retry(NoBackoff(), 0)


class OneContextSSL(SSLConnection):
    """A TLS connection on the context every connection shares."""

    def __init__(self, *, one_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ssl_context.context = one_context


class OneContextSentinelSSL(SentinelManagedSSLConnection):
    """A TLS connection to a Sentinel service's master, on the shared context."""

    def __init__(self, *, one_context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.ssl_context.context = one_context


@dataclass(frozen=True, slots=True)
class Kind:
    """What kind of Redis answered: for logs, `/_proxy/ready` and the status page."""

    name: str  # single, cluster, sentinel, unknown (not reached yet)
    masters: int = 1
    service: str = ""

    def __str__(self) -> str:
        if self.name == "cluster":
            return f"cluster with {self.masters} masters"
        if self.name == "sentinel":
            return f"sentinel service {self.service}"
        return "not reached yet" if self.name == "unknown" else "single server"


UNKNOWN = Kind("unknown")


class Connector:
    """Makes the clients for one `--cache-url`."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.target: RedisTarget = parse_redis_url(url)
        self.context = tls_context(self.target)
        self.timeout = timeout
        self._sentinels: Sentinel | None = None

    @property
    def where(self) -> str:
        """The server, for logs: host, port and db (or the sentinels), never a password."""
        target = self.target
        if target.sentinel:
            hosts = ",".join(f"{host}:{port}" for host, port in target.sentinels)
            return f"sentinel {hosts}/{target.service}/{target.db}"
        options = _url_options(target)
        if "path" in options:
            return f"{options['path']} (db {options.get('db', 0)})"
        return f"{options.get('host', '?')}:{options.get('port', 6379)}/{options.get('db', 0)}"

    def first(self, *, reads: float | bool | None = True) -> Redis:
        """The client to start with: the master of a Sentinel service, else the plain one
        (replaced by a cluster client once the server says it is one). `reads=None`:
        no timeout on reads, for a client that listens."""
        if self.target.sentinel:
            return self._sentinel(reads)
        return self.plain(reads=reads)

    def plain(
        self, *, host: str | None = None, port: int | None = None, reads: float | bool | None = True
    ) -> Redis:
        """A client of one server: the URL's, or one node of its cluster."""
        options = _url_options(self.target)
        if host is not None:
            options |= {"host": host, "port": port}
        options.pop("connection_class", None)
        connection: type[AbstractConnection] = Connection
        if "path" in options:
            from redis.asyncio.connection import UnixDomainSocketConnection  # noqa: PLC0415

            connection = UnixDomainSocketConnection
        elif self.context is not None:
            connection, options["one_context"] = OneContextSSL, self.context
        pool = ConnectionPool(connection_class=connection, **self._common(reads), **options)
        return Redis.from_pool(pool)

    def cluster(self) -> RedisCluster:
        """redis-py's cluster client, starting from the URL's node."""
        options = _url_options(self.target)
        for name in ("connection_class", "path", "db"):
            options.pop(name, None)
        cluster = RedisCluster(
            **options,
            **self._common(),
            ssl=self.context is not None,
            require_full_coverage=False,  # a master down costs its slots, not every slot
            cluster_error_retry_attempts=0,
        )
        if self.context is not None:  # every node's connections share the one context
            cluster.nodes_manager.connection_kwargs |= {
                "connection_class": OneContextSSL,
                "one_context": self.context,
            }
            for node in cluster.nodes_manager.startup_nodes.values():
                node.connection_class = OneContextSSL
                node.connection_kwargs["one_context"] = self.context
        return cluster

    def _sentinel(self, reads: float | bool | None) -> Redis:
        target = self.target
        if self._sentinels is None:
            auth = {name.removeprefix("sentinel_"): value
                    for name, value in target.sentinel_auth.items()}  # fmt: skip
            tls: dict[str, Any] = {}
            if self.context is not None:  # redis-py's own TLS for the sentinels, typed
                tls = {"ssl": True, **target.tls, "ssl_check_hostname": target.check_hostname}
            self._sentinels = Sentinel(  # type: ignore[no-untyped-call]
                list(target.sentinels), sentinel_kwargs={**self._common(), **auth, **tls}
            )
        extra: dict[str, Any] = {}
        if self.context is not None:
            extra = {"connection_class": OneContextSentinelSSL, "one_context": self.context}
        client: Redis = self._sentinels.master_for(
            target.service,
            db=target.db,
            username=target.username,
            password=target.password,
            **self._common(reads),
            **target.options,
            **extra,
        )
        return client

    async def close(self) -> None:
        """Close the connections to the sentinels, if any."""
        if self._sentinels is not None:
            for sentinel in self._sentinels.sentinels:
                await sentinel.aclose()

    def _common(self, reads: float | bool | None = True) -> dict[str, Any]:
        return {
            "socket_timeout": self.timeout if reads is True else reads,
            "socket_connect_timeout": self.timeout,
            "retry": NO_RETRY,
            "health_check_interval": 0,
        }


async def detect(client: Redis, connector: Connector) -> Kind:
    """Ask the server what it is (`CLUSTER SLOTS`); raises RedisError if it does not
    answer. A user not allowed to ask is taken for a single server (and told once,
    by the caller, from NoPermissionError)."""
    if connector.target.sentinel:
        return Kind("sentinel", service=connector.target.service)
    try:
        slots = await client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
    except NoPermissionError:
        raise
    except ResponseError as error:
        if "cluster support disabled" in str(error).lower():
            return Kind("single")
        raise
    masters = {(_text(slot[2][0]), int(slot[2][1])) for slot in slots}
    return Kind("cluster", masters=len(masters)) if masters else Kind("single")


def _url_options(target: RedisTarget) -> dict[str, Any]:
    from redis.connection import parse_url  # noqa: PLC0415

    options: dict[str, Any] = parse_url(target.url)  # type: ignore[no-untyped-call]
    return options


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
