"""The link to Redis: which failures take a node (or the layer) down, and which
are the program's own bugs that must not be hidden."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import Connection

from leads_proxy.observe.stats import Stats
from leads_proxy.proxy.redis.link import Link


async def _nothing() -> None:
    return None


def make_link(stats: Stats) -> Link:
    return Link("fake:6379/0", revive=_nothing, close=_nothing, timeout=1.0, stats=stats)


def test_link__a_connection_closed_under_redis_py_is_a_node_down_not_a_crash() -> None:
    """redis-py's cluster client can write on a connection another task closed
    (`'NoneType' object has no attribute 'writelines'`): a lost connection."""

    async def closed_under_it() -> None:
        connection = Connection(host="127.0.0.1", port=1)
        await connection._send_packed_command([b"PING\r\n"])  # its writer is None

    stats = Stats()
    answer = asyncio.run(make_link(stats).call(closed_under_it, node="127.0.0.1:1"))
    assert answer is None
    assert stats.redis_errors == 1


def test_link__an_attribute_error_of_our_own_is_not_hidden() -> None:
    async def our_bug() -> None:
        raise AttributeError("a bug of ours")

    with pytest.raises(AttributeError, match="a bug of ours"):
        asyncio.run(make_link(Stats()).call(our_bug, node="127.0.0.1:1"))


def test_link__an_attribute_error_in_our_own_redis_modules_is_not_hidden() -> None:
    """Our modules live under leads_proxy/proxy/redis/: that is not redis-py."""
    ours: dict[str, object] = {}
    source = "async def bug():\n    raise AttributeError('a bug in our redis code')\n"
    exec(compile(source, "/site/leads_proxy/proxy/redis/session.py", "exec"), ours)  # noqa: S102
    with pytest.raises(AttributeError, match="a bug in our redis code"):
        asyncio.run(make_link(Stats()).call(ours["bug"], node="127.0.0.1:1"))  # type: ignore[arg-type]
