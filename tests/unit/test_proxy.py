"""ProxyService carrying requests through the policy: a fake clock and upstream, no sockets.

The counters are pinned against the headers: every answer is counted once,
under the label its X-Cache header shows.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from leads_proxy.http.request import Head, Incoming
from leads_proxy.http.service import Served
from leads_proxy.observe.observer import Observer
from leads_proxy.proxy.service import ProxyService
from tests.fakes import (
    AUTH,
    Clock,
    Script,
    answer,
    body_version,
    get,
    header,
    hot_reply,
    make_proxy,
    ok,
    status,
)

HOST = (b"host", b"127.0.0.1:8000")  # Incoming's default origin, as a client names it


def counted(service: ProxyService, answers: list[Served]) -> None:
    """Each record's verdict is its reply's X-Cache header, and the stats the observer
    keeps from the records say exactly what the replies' headers say."""
    observer = Observer(stats=service.stats)
    head = Head.read("GET", "/api/user/leads", b"", [])
    for served in answers:
        assert served.cache == header(served.reply, b"x-cache")
        observer.saw({}, head, served.status, served, 0.0)
    replies = [served.reply for served in answers]
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
    answered = []
    for query in requests:
        extra = [(b"cache-control", b"only-if-cached")] if query == b"only" else []
        sent = Incoming(query=b"" if query == b"only" else query, headers=[AUTH, *extra])
        answered.append(asyncio.run(service.answer(sent)))
    assert [header(served.reply, b"x-cache") for served in answered] == labels
    counted(service, answered)


def test_counters__a_mixed_day_adds_up() -> None:
    clock = Clock()
    script = Script([ok(1), ok(2), broken])
    service = make_proxy(script, clock, ttl=10, stale_while_revalidate=10)
    answered: list[Served] = []

    async def scenario() -> None:
        answered.append(await service.answer(Incoming(headers=[AUTH])))  # miss
        hit = service.hot(Head.read("GET", "/leads", b"", [AUTH, HOST]))  # hot hit
        assert hit is not None
        answered.append(hit)
        etag = (b"if-none-match", header(hit.reply, b"etag").encode())
        answered.append(await service.answer(Incoming(headers=[AUTH, etag])))  # 304 hit
        clock.now += 15
        answered.append(await service.answer(Incoming(headers=[AUTH])))  # stale + refresh
        await service.filler.drain()
        clock.now += 25  # past swr of the refreshed copy: the upstream fails, stale stands in
        answered.append(await service.answer(Incoming(headers=[AUTH])))
        answered.append(await service.answer(Incoming()))  # no key: bypass, upstream fails

    asyncio.run(scenario())
    replies = [served.reply for served in answered]
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
    counted(service, answered)


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
    asyncio.run(answer(service, Incoming(headers=[other])))
    assert asyncio.run(service.purge("2|other")) == (1, True)
    assert asyncio.run(service.purge()) == (2, True)
    assert service.snapshot()["entries"] == 0


OTHER = (b"authorization", b"Bearer 2|other")


def test_hot_reply__a_ready_hit_follows_age_purges_and_refills() -> None:
    clock = Clock()
    script = Script([ok(1), ok(2)])
    service = make_proxy(script, clock, ttl=30)
    get(service)
    first = hot_reply(service, b"", [AUTH])
    assert first is not None
    assert hot_reply(service, b"", [AUTH]) is first  # ready: the same reply again
    clock.now += 1.0
    older = hot_reply(service, b"", [AUTH])
    assert older is not None
    assert header(older, b"age") == "1"
    asyncio.run(service.purge())
    assert hot_reply(service, b"", [AUTH]) is None  # nothing ready survives a purge
    get(service)
    refilled = hot_reply(service, b"", [AUTH])
    assert refilled is not None
    assert body_version(refilled) == 2
    again = service.hot(Head.read("GET", "/api/user/leads", b"", [AUTH, HOST]))
    assert again is not None
    assert again.cache == "HIT"  # what the observer counts it as


def test_hot_reply__ready_only_for_the_key_and_query_that_got_it() -> None:
    script = Script([ok(1), ok(2), ok(3)])
    service = make_proxy(script, Clock())
    get(service)
    assert hot_reply(service, b"", [AUTH]) is not None
    assert hot_reply(service, b"", [OTHER]) is None  # another key: its own miss
    assert hot_reply(service, b"status=x", [AUTH]) is None
    asyncio.run(answer(service, Incoming(headers=[OTHER])))
    other = hot_reply(service, b"", [OTHER])
    assert other is not None
    assert body_version(other) == 2
    mine = hot_reply(service, b"", [AUTH])
    assert mine is not None
    assert body_version(mine) == 1


def test_hot_reply__if_none_match_and_cache_control_take_their_own_way() -> None:
    service = make_proxy(Script([ok(1)]), Clock())
    get(service)
    hit = hot_reply(service, b"", [AUTH])
    assert hit is not None
    etag = (b"if-none-match", header(hit, b"etag").encode())
    not_modified = hot_reply(service, b"", [AUTH, etag])
    assert not_modified is not None
    assert not_modified.status == 304
    assert hot_reply(service, b"", [AUTH, (b"cache-control", b"no-cache")]) is None
