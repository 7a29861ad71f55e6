"""ProxyService carrying requests through the policy: a fake clock and upstream, no sockets.

The counters are pinned against the headers: every answer is counted once,
under the label its X-Cache header shows.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from app.proxy import ProxyService
from app.reply import Incoming, Reply
from tests.fakes import (
    AUTH,
    Clock,
    Script,
    body_version,
    get,
    header,
    make_proxy,
    ok,
    status,
)


def counted(service: ProxyService, replies: list[Reply]) -> None:
    """The stats say exactly what the replies' headers say."""
    labels = Counter(header(reply, b"x-cache") for reply in replies)
    stats = service.stats
    assert stats.requests == len(replies)
    assert {
        "HIT": stats.hits,
        "STALE": stats.stale_served,
        "MISS": stats.misses,
        "BYPASS": stats.bypassed,
    } == {label: labels.get(label, 0) for label in ("HIT", "STALE", "MISS", "BYPASS")}
    assert stats.not_modified == sum(reply.status == 304 for reply in replies)


def broken(_request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused")


@pytest.mark.parametrize(
    ("answers", "requests", "labels"),
    [
        pytest.param([ok(1)], [b"", b""], ["MISS", "HIT"], id="miss-then-hit"),
        pytest.param([status(404)], [b"", b""], ["MISS", "MISS"], id="passed-4xx"),
        pytest.param([status(429)], [b"", b"x=1"], ["MISS", "MISS"], id="429-then-cooling"),
        pytest.param([broken], [b""], ["MISS"], id="unreachable"),
        pytest.param([ok(1)], [b"only"], ["MISS"], id="only-if-cached-miss"),
    ],
)
def test_counters__agree_with_the_x_cache_header(
    answers: list[object], requests: list[bytes], labels: list[str]
) -> None:
    service = make_proxy(Script(answers), Clock())  # type: ignore[arg-type]
    replies = []
    for query in requests:
        extra = [(b"cache-control", b"only-if-cached")] if query == b"only" else []
        replies.append(get(service, b"" if query == b"only" else query, *extra))
    assert [header(reply, b"x-cache") for reply in replies] == labels
    counted(service, replies)


def test_counters__a_mixed_day_adds_up() -> None:
    clock = Clock()
    script = Script([ok(1), ok(2), broken])
    service = make_proxy(script, clock, ttl=10, stale_while_revalidate=10)
    replies: list[Reply] = []

    async def scenario() -> None:
        replies.append(await service.answer(Incoming(headers=[AUTH])))  # miss
        hit = service.hot_reply(b"", [AUTH])  # hot hit
        assert hit is not None
        replies.append(hit)
        etag = (b"if-none-match", header(hit, b"etag").encode())
        replies.append(await service.answer(Incoming(headers=[AUTH, etag])))  # 304 hit
        clock.now += 15
        replies.append(await service.answer(Incoming(headers=[AUTH])))  # stale + refresh
        await service.filler.drain()
        clock.now += 25  # past swr of the refreshed copy: the upstream fails, stale stands in
        replies.append(await service.answer(Incoming(headers=[AUTH])))
        replies.append(await service.answer(Incoming()))  # no key: bypass, upstream fails

    asyncio.run(scenario())
    assert [header(reply, b"x-cache") for reply in replies] == [
        "MISS",
        "HIT",
        "HIT",
        "STALE",
        "STALE",
        "BYPASS",
    ]
    assert replies[2].status == 304
    assert body_version(replies[4]) == 2
    counted(service, replies)


def test_only_if_cached__504_without_asking() -> None:
    script = Script([ok(1)])
    reply = get(make_proxy(script, Clock()), b"", (b"cache-control", b"only-if-cached"))
    assert reply.status == 504
    assert script.requests == []


def test_no_cache__asks_again_and_says_so() -> None:
    script = Script([ok(1), ok(2)])
    service = make_proxy(script, Clock())
    get(service)
    reply = get(service, b"", (b"cache-control", b"no-cache"))
    assert body_version(reply) == 2
    assert header(reply, b"cache-status").startswith("leads-proxy; fwd=request")


def test_purge__by_key_fingerprint_or_all() -> None:
    service = make_proxy(Script([ok(1)]), Clock())
    get(service)
    get(service, b"status=x")
    other = (b"authorization", b"Bearer 2|other")
    asyncio.run(service.answer(Incoming(headers=[other])))
    assert asyncio.run(service.purge("2|other")) == (1, True)
    assert asyncio.run(service.purge()) == (2, True)
    assert service.snapshot()["entries"] == 0


OTHER = (b"authorization", b"Bearer 2|other")


def test_hot_reply__a_ready_hit_follows_age_purges_and_refills() -> None:
    clock = Clock()
    script = Script([ok(1), ok(2)])
    service = make_proxy(script, clock, ttl=30)
    get(service)
    first = service.hot_reply(b"", [AUTH])
    assert first is not None
    assert service.hot_reply(b"", [AUTH]) is first  # ready: the same reply again
    clock.now += 1.0
    older = service.hot_reply(b"", [AUTH])
    assert older is not None
    assert header(older, b"age") == "1"
    asyncio.run(service.purge())
    assert service.hot_reply(b"", [AUTH]) is None  # nothing ready survives a purge
    get(service)
    refilled = service.hot_reply(b"", [AUTH])
    assert refilled is not None
    assert body_version(refilled) == 2
    assert service.stats.hits == 4


def test_hot_reply__ready_only_for_the_key_and_query_that_got_it() -> None:
    script = Script([ok(1), ok(2), ok(3)])
    service = make_proxy(script, Clock())
    get(service)
    assert service.hot_reply(b"", [AUTH]) is not None
    assert service.hot_reply(b"", [OTHER]) is None  # another key: its own miss
    assert service.hot_reply(b"status=x", [AUTH]) is None
    asyncio.run(service.answer(Incoming(headers=[OTHER])))
    other = service.hot_reply(b"", [OTHER])
    assert other is not None
    assert body_version(other) == 2
    mine = service.hot_reply(b"", [AUTH])
    assert mine is not None
    assert body_version(mine) == 1


def test_hot_reply__if_none_match_and_cache_control_take_their_own_way() -> None:
    service = make_proxy(Script([ok(1)]), Clock())
    get(service)
    hit = service.hot_reply(b"", [AUTH])
    assert hit is not None
    etag = (b"if-none-match", header(hit, b"etag").encode())
    not_modified = service.hot_reply(b"", [AUTH, etag])
    assert not_modified is not None
    assert not_modified.status == 304
    assert service.hot_reply(b"", [AUTH, (b"cache-control", b"no-cache")]) is None
