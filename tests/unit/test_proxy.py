"""ProxyService driven directly: a fake clock and httpx.MockTransport, no sockets."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.cache import CacheKey, Entry, KeyMaker, MemoryStorage, State, normalize_query
from app.proxy import ProxyConfig, ProxyService, retry_after_seconds
from app.reply import Incoming, Reply
from app.upstream import Pacer, Upstream

TOKEN = b"1|unit-test-key"
AUTH = (b"authorization", b"Bearer " + TOKEN)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Script:
    """The fake upstream's answers, in order; the last one repeats."""

    answers: list[Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request)


def ok(version: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(200, json=[{"version": version}])


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(code, json={"message": "no"}, headers=headers)


def make(
    script: Script, clock: Clock, *, shared: Any = None, hold: float = 1.0, **config: float
) -> ProxyService:
    upstream = Upstream(
        "http://upstream.test/api", transport=httpx.MockTransport(script), clock=clock
    )
    return ProxyService(
        upstream=upstream,
        storage=MemoryStorage(max_entries=100, max_bytes=1_000_000, clock=clock),
        keys=KeyMaker(b"k" * 32),
        config=ProxyConfig(**config),
        clock=clock,
        wall=lambda: 1_700_000_000.0,
        access_log=False,
        shared=shared,
        hold=hold,
    )


def get(service: ProxyService, query: bytes = b"", *headers: tuple[bytes, bytes]) -> Reply:
    return asyncio.run(service.answer(Incoming(query=query, headers=[AUTH, *headers])))


def body_version(reply: Reply) -> int:
    version: int = json.loads(reply.body)[0]["version"]
    return version


def header(reply: Reply, name: bytes) -> str:
    return dict(reply.headers)[name].decode()


def test_freshness__fresh_then_stale_then_expired_then_gone() -> None:
    clock = Clock()
    service = make(Script([ok(1)]), clock, ttl=10, stale_while_revalidate=5, stale_if_error=60)
    get(service)
    key = service.keys.key(TOKEN, "")
    entry = service.storage.get(key)
    assert entry is not None
    for offset, state in [(0, State.FRESH), (9.9, State.FRESH), (10, State.STALE)]:
        assert entry.state(1000 + offset) is state
    assert entry.state(1015) is State.EXPIRED
    assert entry.state(1069.9) is State.EXPIRED
    assert entry.state(1070) is None


def test_hit__ttl_and_age_follow_the_clock() -> None:
    clock = Clock()
    service = make(Script([ok(1)]), clock, ttl=30)
    get(service)
    clock.now += 12
    hit = service.hot_reply(b"", [AUTH])
    assert hit is not None
    assert header(hit, b"cache-status") == "leads-proxy; hit; ttl=18"
    assert header(hit, b"age") == "12"


def test_stale_while_revalidate__serves_stale_and_refreshes_in_the_background() -> None:
    clock = Clock()
    script = Script([ok(1), ok(2)])
    service = make(script, clock, ttl=10, stale_while_revalidate=30)

    async def scenario() -> tuple[Reply, Reply]:
        await service.answer(Incoming(headers=[AUTH]))
        clock.now += 11
        stale = await service.answer(Incoming(headers=[AUTH]))
        await asyncio.sleep(0.01)  # let the background refresh land
        return stale, await service.answer(Incoming(headers=[AUTH]))

    stale, fresh = asyncio.run(scenario())
    assert header(stale, b"x-cache") == "STALE"
    assert body_version(stale) == 1
    assert header(fresh, b"x-cache") == "HIT"
    assert body_version(fresh) == 2
    assert len(script.requests) == 2


def test_single_flight__concurrent_misses_share_one_request() -> None:
    clock = Clock()
    script = Script([ok(1)])

    async def scenario() -> list[Reply]:
        script.gate = asyncio.Event()
        service = make(script, clock)
        waiting = [asyncio.create_task(service.answer(Incoming(headers=[AUTH]))) for _ in range(50)]
        await asyncio.sleep(0.01)
        script.gate.set()
        return await asyncio.gather(*waiting)

    replies = asyncio.run(scenario())
    assert len(script.requests) == 1
    assert {reply.status for reply in replies} == {200}


def test_single_flight__a_cancelled_waiter_leaves_the_fill_running() -> None:
    clock = Clock()
    script = Script([ok(1)])

    async def scenario() -> tuple[ProxyService, Reply]:
        script.gate = asyncio.Event()
        service = make(script, clock)
        first = asyncio.create_task(service.answer(Incoming(headers=[AUTH])))
        await asyncio.sleep(0.01)
        first.cancel()
        script.gate.set()
        await asyncio.sleep(0.01)
        return service, await service.answer(Incoming(headers=[AUTH]))

    service, reply = asyncio.run(scenario())
    assert header(reply, b"x-cache") == "HIT"
    assert service.stats.upstream_requests == 1


def test_cooldown__holds_the_key_until_retry_after_passes() -> None:
    clock = Clock()
    script = Script([status(429, **{"Retry-After": "30"}), ok(1)])
    service = make(script, clock)
    assert get(service).status == 429
    clock.now += 29
    waiting = get(service, b"status=other")
    assert waiting.status == 429
    assert header(waiting, b"retry-after") == "1"
    assert len(script.requests) == 1
    clock.now += 1
    assert get(service).status == 200
    assert len(script.requests) == 2


def test_cooldown__without_retry_after_waits_a_default() -> None:
    clock = Clock()
    service = make(Script([status(429)]), clock)
    assert header(get(service), b"retry-after") == "10"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),  # wall clock is 1_700_000_000 = 22:13:20
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, wall=1_700_000_000.0) == seconds


def test_pacer__spaces_requests_evenly() -> None:
    clock = Clock(0.0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pacer = Pacer(4, clock=clock, sleep=sleep)

    async def five() -> None:
        for _ in range(5):
            await pacer.wait()

    asyncio.run(five())
    assert slept == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("status=a&campaign_id=2", "campaign_id=2&status=a"),
        ("status=a&page=", "status=a"),
        ("status=b&status=a", "status=a"),
        ("phone_number=%2B1555", "phone_number=+1555".replace("+", "%2B")),
        ("", "page=&per_page="),
    ],
)
def test_normalize_query__same_meaning_same_key(one: str, other: str) -> None:
    assert normalize_query(one) == normalize_query(other)


@pytest.mark.parametrize("secret", [b"k" * 32, b"short", b"x" * 100], ids=["32", "5", "100"])
def test_keys__fingerprint_is_hmac_sha256(secret: bytes) -> None:
    for token in (b"1|abc", b"", b"2|" + b"z" * 300):
        expected = hmac.new(secret, token, hashlib.sha256).hexdigest()[:32]
        assert KeyMaker(secret).fingerprint(token) == expected


def test_keys__differ_per_token_and_never_hold_it() -> None:
    keys = KeyMaker(b"s" * 32)
    one, two = keys.key(b"1|aaaa", "x=1"), keys.key(b"1|aaab", "x=1")
    assert one != two
    assert "aaaa" not in str(one)
    assert len(one.short) == 8
    assert KeyMaker().fingerprint(b"1|aaaa") != KeyMaker().fingerprint(b"1|aaaa")  # own secret


def _entry(size: int, now: float = 0.0) -> Entry:
    return Entry(b"x" * size, (), b'"e"', now, now + 10, now + 20, now + 30)


def test_storage__bounded_by_entries_and_bytes_oldest_out_first() -> None:
    clock = Clock(0.0)
    storage = MemoryStorage(max_entries=3, max_bytes=4 * 1024, clock=clock)
    keys = [CacheKey.of("f", str(n)) for n in range(5)]
    for key in keys:
        assert storage.put(key, _entry(100))
    assert storage.entries == 3
    assert storage.get(keys[0]) is None
    assert storage.get(keys[4]) is not None
    assert not storage.put(CacheKey.of("f", "huge"), _entry(10_000))
    storage.put(CacheKey.of("f", "big"), _entry(3000))
    assert storage.bytes <= 4 * 1024


def test_storage__entries_leave_when_no_window_is_left() -> None:
    clock = Clock(0.0)
    storage = MemoryStorage(max_entries=3, max_bytes=100_000, clock=clock)
    storage.put(CacheKey.of("f", ""), _entry(10))
    clock.now = 29.9
    assert storage.entries == 1
    clock.now = 30.0
    assert storage.get(CacheKey.of("f", "")) is None


def test_purge__by_key_fingerprint_or_all() -> None:
    clock = Clock()
    service = make(Script([ok(1)]), clock)
    get(service)
    get(service, b"status=x")
    other = (b"authorization", b"Bearer 2|other")
    asyncio.run(service.answer(Incoming(headers=[other])))
    assert asyncio.run(service.purge("2|other")) == (1, True)
    assert asyncio.run(service.purge()) == (2, True)
