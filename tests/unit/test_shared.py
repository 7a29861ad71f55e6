"""The shared layer's rules, driven without Redis: a fake Shared, a fake clock.

The real Redis is exercised end to end in tests/e2e/test_shared.py; here the
fine logic of filling across processes is pinned case by case.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.cache import CacheKey, Entry, KeyMaker
from app.proxy import ProxyService
from app.reply import Incoming, Reply
from app.shared import Claim, Cooling, SharedPacer, Wait, decode_entry, encode_entry
from app.stats import Stats
from tests.unit.test_proxy import AUTH, TOKEN, Clock, Script, body_version, header, ok, status
from tests.unit.test_proxy import make as make_proxy

KEY = KeyMaker(b"k" * 32).key(TOKEN, "")


def entry(now: float, version: int = 1, ttl: float = 30.0) -> Entry:
    body = json.dumps([{"version": version}]).encode()
    return Entry.build(
        body,
        etag=f'"v{version}"'.encode(),
        content_type=b"application/json",
        stored_at=now,
        fresh_until=now + ttl,
        stale_until=now + ttl + 30,
        error_until=now + ttl + 600,
    )


@dataclass
class FakeShared:
    """Answers as scripted; records what the proxy asked of it."""

    claims: list[Any] = field(default_factory=lambda: [Claim.MINE])
    waits: list[Any] = field(default_factory=list)
    entries: dict[CacheKey, Entry] = field(default_factory=dict)
    available: bool = True
    puts: list[tuple[CacheKey, Entry, bool]] = field(default_factory=list)  # (.., restored)
    released: list[str] = field(default_factory=list)
    cooled: list[float] = field(default_factory=list)

    async def get(self, key: CacheKey, *, hold_until: float) -> Entry | None:
        found = self.entries.get(key)
        return found.held(hold_until) if found and self.available else None

    async def put(self, key: CacheKey, entry: Entry) -> bool:
        self.puts.append((key, entry, False))
        self.entries[key] = entry
        return True

    async def restore(self, key: CacheKey, entry: Entry) -> bool:
        self.puts.append((key, entry, True))
        self.entries[key] = entry
        return True

    async def claim(self, key: CacheKey, *, token: str, hold: float) -> Claim | Cooling:
        return self.claims.pop(0) if len(self.claims) > 1 else self.claims[0]

    async def release(self, key: CacheKey, token: str) -> None:
        self.released.append(token)

    async def wait_for_fill(self, key: CacheKey, *, until: float, hold_until: float) -> Any:
        return self.waits.pop(0)

    async def cool_down(self, fingerprint: str, seconds: float) -> None:
        self.cooled.append(seconds)

    async def purge(self, fingerprint: str | None) -> int | None:
        return 0

    @staticmethod
    def new_token() -> str:
        return "token-1"


def make(script: Script, clock: Clock, shared: FakeShared, hold: float = 1.0) -> ProxyService:
    return make_proxy(script, clock, shared=shared, hold=hold)


def count_lookups(shared: FakeShared) -> list[CacheKey]:
    """Make each Redis lookup take a round trip (others arrive meanwhile); list them."""
    lookups: list[CacheKey] = []
    real_get = shared.get

    async def counted_get(key: CacheKey, *, hold_until: float) -> Entry | None:
        lookups.append(key)
        await asyncio.sleep(0)
        return await real_get(key, hold_until=hold_until)

    shared.get = counted_get  # type: ignore[method-assign]
    return lookups


def get(service: ProxyService) -> Reply:
    return asyncio.run(service.answer(Incoming(headers=[AUTH])))


# --- entries cross processes as wall-clock times ---------------------------------


def test_entry__round_trips_between_processes_with_different_clocks() -> None:
    written = entry(now=1000.0)
    # Process A: monotonic 1000 at wall 1.7e9. Process B: monotonic 50, two seconds later.
    raw = encode_entry(written, shift=1_700_000_000.0 - 1000.0)
    read = decode_entry(raw, shift=1_700_000_002.0 - 52.0, hold_until=53.0)
    assert read is not None
    assert read.body == written.body
    assert read.headers == written.headers
    assert read.fresh_until == pytest.approx(50.0 + 30.0)
    assert read.error_until == pytest.approx(50.0 + 630.0)
    assert read.hot_until == 53.0


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json\n[]", b'{"format": 2}\n[]', b'{"format": 1}\n[]', b"[1, 2]\n[]"],
    ids=["empty", "not-json", "other-format", "missing-fields", "not-an-object"],
)
def test_entry__anything_else_in_redis_is_no_entry(raw: bytes) -> None:
    assert decode_entry(raw, shift=0.0, hold_until=0.0) is None


def test_entry__held_never_past_its_freshness() -> None:
    fresh = entry(now=0.0, ttl=10.0)
    assert fresh.held(5.0).hot_until == 5.0
    assert fresh.held(99.0).hot_until == 10.0


# --- filling across processes ---------------------------------------------------------


def test_fill__the_lock_holder_asks_stores_for_all_and_releases() -> None:
    shared, script = FakeShared(), Script([ok(1)])
    reply = get(make(script, Clock(), shared))
    assert body_version(reply) == 1
    assert len(script.requests) == 1
    assert [put[2] for put in shared.puts] == [False]
    assert shared.released == ["token-1"]


def test_fill__while_another_process_asks_the_entry_it_stores_is_served() -> None:
    clock = Clock()
    peer_entry = entry(clock.now, version=7)
    shared = FakeShared(claims=[Claim.TAKEN], waits=[peer_entry])
    script = Script([ok(1)])
    service = make(script, clock, shared)
    reply = get(service)
    assert body_version(reply) == 7
    assert script.requests == []
    assert "detail=filled-by-peer" in header(reply, b"cache-status")
    assert service.stats.shared_waits == 1
    assert shared.released == []  # never held it


def test_fill__when_the_other_fill_fails_a_stale_copy_stands_in() -> None:
    clock = Clock()
    shared = FakeShared(claims=[Claim.MINE, Claim.TAKEN], waits=[Wait.RELEASED])
    script = Script([ok(1)])
    service = make(script, clock, shared)
    get(service)
    clock.now += 100  # past fresh and stale-while-revalidate: only stale-if-error is left
    reply = asyncio.run(service.answer(Incoming(headers=[AUTH, (b"cache-control", b"no-cache")])))
    assert body_version(reply) == 1
    assert header(reply, b"x-cache") == "STALE"
    assert len(script.requests) == 1


def test_fill__when_the_other_fill_fails_and_nothing_is_stale_it_asks_itself() -> None:
    shared = FakeShared(claims=[Claim.TAKEN, Claim.MINE], waits=[Wait.RELEASED])
    script = Script([ok(1)])
    reply = get(make(script, Clock(), shared))
    assert body_version(reply) == 1
    assert len(script.requests) == 1
    assert shared.released == ["token-1"]


@pytest.mark.parametrize("why", [Wait.TIMED_OUT, Wait.UNAVAILABLE], ids=lambda w: w.value)
def test_fill__a_wait_that_ends_without_an_answer_asks_alone(why: Wait) -> None:
    shared = FakeShared(claims=[Claim.TAKEN], waits=[why])
    script = Script([ok(1)])
    assert body_version(get(make(script, Clock(), shared))) == 1
    assert len(script.requests) == 1
    assert shared.released == []  # the lock was never ours


def test_fill__redis_unavailable_asks_alone() -> None:
    shared = FakeShared(claims=[Claim.UNAVAILABLE])
    script = Script([ok(1)])
    assert body_version(get(make(script, Clock(), shared))) == 1
    assert len(script.requests) == 1


def test_cooldown__told_by_another_process_holds_this_one_too() -> None:
    clock = Clock()
    shared = FakeShared(claims=[Cooling(4.2)])
    script = Script([ok(1)])
    service = make(script, clock, shared)
    reply = get(service)
    assert reply.status == 429
    assert header(reply, b"retry-after") == "5"
    assert script.requests == []
    # The wait is now this process's too: no Redis needed to keep it.
    shared.claims = [Claim.MINE]
    assert get(service).status == 429
    clock.now += 4.3
    assert get(service).status == 200


def test_cooldown__a_429_here_is_told_to_every_process() -> None:
    shared = FakeShared()
    script = Script([status(429, **{"Retry-After": "7"})])
    assert get(make(script, Clock(), shared)).status == 429
    assert shared.cooled == [pytest.approx(7.0)]


# --- the in-process layer in front -----------------------------------------------------


def test_hold__past_hold_a_fresh_copy_is_served_while_redis_is_asked_once() -> None:
    clock = Clock()
    shared = FakeShared()
    script = Script([ok(1)])
    service = make(script, clock, shared, hold=1.0)
    lookups = count_lookups(shared)

    async def scenario() -> None:
        await service.answer(Incoming(headers=[AUTH]))
        assert service.hot_reply(b"", [AUTH]) is not None
        clock.now += 1.5
        assert service.hot_reply(b"", [AUTH]) is None  # held long enough: ask Redis
        # Another process refreshed the entry meanwhile.
        shared.entries[KEY] = entry(clock.now, version=9)
        lookups_before = len(lookups)
        meanwhile = await asyncio.gather(
            *(service.answer(Incoming(headers=[AUTH])) for _ in range(20))
        )
        # Ours is still fresh: served at once, while one lookup brings Redis's copy.
        assert {body_version(reply) for reply in meanwhile} == {1}
        assert {header(reply, b"x-cache") for reply in meanwhile} == {"HIT"}
        await asyncio.sleep(0.01)
        assert len(lookups) - lookups_before == 1
        assert body_version(await service.answer(Incoming(headers=[AUTH]))) == 9
        assert service.hot_reply(b"", [AUTH]) is not None

    asyncio.run(scenario())
    assert service.stats.shared_hits == 1
    assert len(script.requests) == 1


def test_hold__without_a_fresh_copy_concurrent_requests_share_one_lookup() -> None:
    clock = Clock()
    shared = FakeShared()
    shared.entries[KEY] = entry(clock.now, version=4)
    script = Script([ok(1)])
    service = make(script, clock, shared)
    lookups = count_lookups(shared)

    async def scenario() -> list[Reply]:
        return await asyncio.gather(*(service.answer(Incoming(headers=[AUTH])) for _ in range(20)))

    replies = asyncio.run(scenario())
    assert {body_version(reply) for reply in replies} == {4}
    assert len(lookups) == 1
    assert script.requests == []


def test_hold__redis_that_lost_the_entry_gets_ours_back() -> None:
    clock = Clock()
    shared = FakeShared()
    service = make(Script([ok(1)]), clock, shared, hold=1.0)

    async def scenario() -> None:
        await service.answer(Incoming(headers=[AUTH]))
        shared.entries.clear()  # Redis restarted empty
        clock.now += 1.5
        reply = await service.answer(Incoming(headers=[AUTH]))
        assert body_version(reply) == 1
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert shared.puts[-1][2] is True  # restored: a newer fill or a purge since wins
    assert KEY in shared.entries


def test_hold__with_redis_down_our_copy_is_held_again_and_nothing_is_written() -> None:
    clock = Clock()
    shared = FakeShared()
    service = make(Script([ok(1)]), clock, shared, hold=1.0)

    async def scenario() -> None:
        await service.answer(Incoming(headers=[AUTH]))
        shared.available = False
        writes = len(shared.puts)
        clock.now += 1.5
        reply = await service.answer(Incoming(headers=[AUTH]))
        assert header(reply, b"x-cache") == "HIT"
        await asyncio.sleep(0.01)
        # Back on the hot path for another hold, without Redis.
        assert service.hot_reply(b"", [AUTH]) is not None
        assert len(shared.puts) == writes

    asyncio.run(scenario())


# --- the shared upstream budget -------------------------------------------------------


def test_pacer__waits_the_slot_redis_gives_or_paces_alone_when_it_is_down() -> None:
    slept: list[float] = []
    alone: list[str] = []

    class Redisish:
        delay: float | None = 0.25

        async def pace(self, interval: float) -> float | None:
            assert interval == pytest.approx(0.1)
            return self.delay

    class Alone:
        async def wait(self) -> None:
            alone.append("waited")

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    redisish = Redisish()
    pacer = SharedPacer(redisish, 10.0, alone=Alone(), sleep=sleep)  # type: ignore[arg-type]
    asyncio.run(pacer.wait())
    redisish.delay = None
    asyncio.run(pacer.wait())
    assert slept == [0.25]
    assert alone == ["waited"]


# --- counters across workers -----------------------------------------------------------


def test_stats__totals_sum_every_workers_counters_and_live_workers_gauges(tmp_path: Path) -> None:
    mine = Stats(tmp_path)
    mine.requests += 3
    mine.upstream_error("timeout")
    mine.entries = 2
    # A worker that ran and died: its counters count, its gauges do not.
    dead = Stats()
    dead.requests = 5
    dead.entries = 40
    dead.upstream_error("timeout")
    dead.upstream_error("no-such-kind")
    (tmp_path / "999999999.stats").write_bytes(bytes(dead.cells))
    totals = mine.totals()
    assert totals["requests"] == 8
    assert totals["entries"] == 2
    assert totals["upstream_errors"] == {"timeout": 2, "error": 1}
    assert totals["workers"] == 1
    assert (tmp_path / f"{os.getpid()}.stats").exists()


def test_stats__alone_counts_in_memory() -> None:
    stats = Stats()
    stats.hits += 1
    assert stats.totals()["hits"] == 1
    assert stats.totals()["workers"] == 1
