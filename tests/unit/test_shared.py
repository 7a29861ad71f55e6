"""Shared, the proxy's layer on Redis, against a real redis-server on a loopback port.

Each test starts its own server (`tests.redis_server`; skipped, saying why,
where redis-server is not installed) and drives `Shared` directly: one process's
clock is a fake, and a second `Shared` on the same server stands for another
process. Redis's own expiry runs on real time, so every entry lives minutes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from leads_proxy.observe.stats import Stats
from leads_proxy.proxy.cache import Entry, KeyMaker
from leads_proxy.proxy.layer import Claim, Cooling, Wait
from leads_proxy.proxy.redis.format import PURGE_CHANNEL, PURGED, entry_key, lock_key, purged_key
from leads_proxy.proxy.redis.shared import Shared
from tests.fakes import Clock, until
from tests.redis_server import RedisServer
from tests.support import free_port

WALL = 1_700_000_000.0
KEYS = KeyMaker(b"s" * 32)
ALICE, BOB = b"1|alice-shared-key", b"2|bob-shared-key"
KEY = KEYS.key(ALICE, "status=new")
KEY_2 = KEYS.key(ALICE, "status=old")
BOBS = KEYS.key(BOB, "status=new")
Sleep = Callable[[float], Awaitable[None]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    running = RedisServer(tmp_path).start()
    yield running
    running.stop()


def entry(now: float, version: int = 1, *, ttl: float = 30.0, big: bool = False) -> Entry:
    """A fill made at `now`: fresh `ttl` s, then 30 s stale, then 600 s for errors."""
    leads = [{"version": version, "note": "n" * (80 if big else 1), "i": i} for i in range(30)]
    body = json.dumps(leads).encode()
    return Entry.build(
        body,
        etag=f'"v{version}"'.encode(),
        content_type=b"application/json",
        stored_at=now,
        fresh_until=now + ttl,
        stale_until=now + ttl + 30,
        error_until=now + ttl + 630,
        gzipped=gzip.compress(body) if big else None,
    )


async def instant(_seconds: float) -> None:
    await asyncio.sleep(0)


def layer(url: str, clock: Clock, *, sleep: Sleep = instant, **options: Any) -> Shared:
    return Shared(url, timeout=1.0, clock=clock, wall=lambda: WALL, sleep=sleep, **options)


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(scenario())


# --- entries ------------------------------------------------------------------------


def test_put_and_get__an_entry_comes_back_whole_in_each_processs_clock(
    server: RedisServer,
) -> None:
    here, there = Clock(1000.0), Clock(5000.0)  # two processes, two monotonic clocks
    filled = entry(here.now, big=True)

    async def scenario() -> tuple[bool, Entry | None, Entry | None]:
        one, other = layer(server.url, here), layer(server.url, there)
        try:
            stored = await one.put(KEY, filled)
            mine = await one.get(KEY, hold_until=1001.0)
            return stored, mine, await other.get(KEY, hold_until=math.inf)
        finally:
            await one.close()
            await other.close()

    stored, mine, theirs = run(scenario)
    assert stored
    assert mine is not None
    assert theirs is not None
    assert (mine.body, mine.etag, mine.headers, mine.gzipped) == (
        filled.body, filled.etag, filled.headers, filled.gzipped
    )  # fmt: skip
    assert (mine.stored_at, mine.fresh_until, mine.error_until) == (1000.0, 1030.0, 1660.0)
    assert mine.hot_until == 1001.0  # held as asked
    assert (theirs.stored_at, theirs.fresh_until) == (5000.0, 5030.0)  # the same wall-clock time
    assert theirs.hot_until == 5030.0  # never past freshness
    left = server.client().pttl(entry_key(KEY))
    assert 659_000 < left <= 660_000  # kept until its last window closes


def test_put__an_entry_past_its_last_window_is_not_stored(server: RedisServer) -> None:
    clock = Clock(1000.0)
    old = entry(clock.now - 700)

    async def scenario() -> bool:
        shared = layer(server.url, clock)
        try:
            return await shared.put(KEY, old)
        finally:
            await shared.close()

    assert run(scenario) is False
    assert server.client().exists(entry_key(KEY)) == 0


def test_get__nothing_stored_is_none(server: RedisServer) -> None:
    async def scenario() -> Entry | None:
        shared = layer(server.url, Clock())
        try:
            return await shared.get(KEY, hold_until=0.0)
        finally:
            await shared.close()

    assert run(scenario) is None


@pytest.mark.parametrize(
    "stored",
    [b"not an entry", b'{"format": 1}\n[]', b'{"format": 2}\n[]'],
    ids=["garbage", "old-format", "missing-fields"],
)
def test_get__something_that_is_not_an_entry_is_dropped_and_told(
    server: RedisServer, stored: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    server.client().set(entry_key(KEY), stored)

    async def scenario() -> Entry | None:
        shared = layer(server.url, Clock())
        try:
            return await shared.get(KEY, hold_until=0.0)
        finally:
            await shared.close()

    with caplog.at_level(logging.WARNING, logger="leads_proxy"):
        assert run(scenario) is None
    assert server.client().exists(entry_key(KEY)) == 0
    assert "holds something that is not an entry" in caplog.text


@pytest.mark.parametrize(
    ("present", "purged_at", "restored"),
    [
        pytest.param(False, None, True, id="lost-comes-back"),
        pytest.param(True, None, False, id="a-newer-fill-stays"),
        pytest.param(False, "all", False, id="purged-all-after-it-was-made"),
        pytest.param(False, "key", False, id="purged-its-key-after-it-was-made"),
        pytest.param(False, "other-key", True, id="another-keys-purge"),
        pytest.param(False, "before", True, id="made-after-the-purge"),
    ],
)
def test_restore__a_copy_goes_back_unless_newer_or_purged_since(
    server: RedisServer, present: bool, purged_at: str | None, restored: bool
) -> None:
    clock = Clock(1000.0)
    copy = entry(clock.now, version=1)
    newer = entry(clock.now, version=2)

    async def scenario() -> bool:
        shared = layer(server.url, clock)
        try:
            if present:
                await shared.put(KEY, newer)
            if purged_at == "all":
                await shared.purge(None)
            elif purged_at == "key":
                await shared.purge(KEY.fingerprint)
            elif purged_at == "other-key":
                await shared.purge(BOBS.fingerprint)
            elif purged_at == "before":
                server.client().set(PURGED, repr(WALL - 1))
            return await shared.restore(KEY, copy)
        finally:
            await shared.close()

    assert run(scenario) is restored
    raw = server.client().get(entry_key(KEY))
    if restored:
        assert isinstance(raw, bytes)
        assert raw.endswith(copy.body)
    elif present:
        assert isinstance(raw, bytes)
        assert raw.endswith(newer.body)
    else:
        assert raw is None


# --- fill locks and cooldowns ------------------------------------------------------------


def test_claim_and_release__one_holder_at_a_time_and_only_it_releases(
    server: RedisServer,
) -> None:
    async def scenario() -> list[Claim | Cooling]:
        one, other = layer(server.url, Clock()), layer(server.url, Clock())
        try:
            seen = [await one.claim(KEY, token="one", hold=5.0)]
            seen.append(await other.claim(KEY, token="other", hold=5.0))
            seen.append(await other.claim(KEY_2, token="other", hold=5.0))  # another query
            await other.release(KEY, "other")  # not its lock: stays
            seen.append(await other.claim(KEY, token="other", hold=5.0))
            await one.release(KEY, "one")
            seen.append(await other.claim(KEY, token="other", hold=5.0))
            return seen
        finally:
            await one.close()
            await other.close()

    assert run(scenario) == [Claim.MINE, Claim.TAKEN, Claim.MINE, Claim.TAKEN, Claim.MINE]
    left = server.client().pttl(lock_key(KEY))
    assert 4_000 < left <= 5_000  # a lock left by a dead process expires


def test_cool_down__every_process_holds_that_key_back_for_the_time_told(
    server: RedisServer,
) -> None:
    async def scenario() -> list[Claim | Cooling]:
        one, other = layer(server.url, Clock()), layer(server.url, Clock())
        try:
            await one.cool_down(KEY.fingerprint, 2.5)
            await one.cool_down(BOBS.fingerprint, 0)  # nothing to wait: nothing set
            return [
                await other.claim(KEY, token="t", hold=1.0),
                await other.claim(KEY_2, token="t", hold=1.0),  # the key's every query
                await other.claim(BOBS, token="t", hold=1.0),
            ]
        finally:
            await one.close()
            await other.close()

    cooling, same_key, bob = run(scenario)
    assert isinstance(cooling, Cooling)
    assert 2.0 < cooling.seconds <= 2.5
    assert isinstance(same_key, Cooling)
    assert bob is Claim.MINE


# --- waiting on another process's fill ---------------------------------------------------


def test_wait_for_fill__the_entry_another_process_puts(server: RedisServer) -> None:
    clock = Clock(1000.0)
    filled = entry(clock.now)
    sleeps: list[float] = []

    async def scenario() -> Entry | Cooling | Wait:
        other = layer(server.url, clock)

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 3:  # the other process's fill lands while this one waits
                await other.put(KEY, filled)

        waiting = layer(server.url, clock, sleep=sleep)
        try:
            assert await other.claim(KEY, token="other", hold=5.0) is Claim.MINE
            return await waiting.wait_for_fill(KEY, until=clock.now + 10, hold_until=1002.0)
        finally:
            await waiting.close()
            await other.close()

    got = run(scenario)
    assert isinstance(got, Entry)
    assert (got.body, got.hot_until) == (filled.body, 1002.0)
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("locked", "cooling", "stored", "found"),
    [
        pytest.param(False, False, None, Wait.RELEASED, id="released-with-nothing"),
        pytest.param(True, False, None, Wait.TIMED_OUT, id="held-past-the-deadline"),
        pytest.param(True, True, None, Cooling, id="a-429-told-meanwhile"),
        pytest.param(False, False, "stale", Wait.RELEASED, id="a-stale-entry-is-no-fill"),
    ],
)
def test_wait_for_fill__or_why_not(
    server: RedisServer, locked: bool, cooling: bool, stored: str | None, found: object
) -> None:
    clock = Clock(1000.0)

    async def scenario() -> Entry | Cooling | Wait:
        shared = layer(server.url, clock)
        try:
            if locked:
                await shared.claim(KEY, token="other", hold=5.0)
            if cooling:
                await shared.cool_down(KEY.fingerprint, 3.0)
            if stored == "stale":
                await shared.put(KEY, entry(clock.now - 40))
            return await shared.wait_for_fill(KEY, until=clock.now, hold_until=clock.now)
        finally:
            await shared.close()

    got = run(scenario)
    if found is Cooling:
        assert isinstance(got, Cooling)
        assert 2.5 < got.seconds <= 3.0
    else:
        assert got is found


def test_wait_for_fill__polls_ever_less_often_up_to_50_ms(server: RedisServer) -> None:
    clock = Clock(1000.0)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.now += seconds

    async def scenario() -> Entry | Cooling | Wait:
        shared = layer(server.url, clock, sleep=sleep)
        try:
            await shared.claim(KEY, token="other", hold=5.0)
            return await shared.wait_for_fill(KEY, until=clock.now + 0.5, hold_until=0.0)
        finally:
            await shared.close()

    assert run(scenario) is Wait.TIMED_OUT
    assert sleeps[:3] == pytest.approx([0.005, 0.0075, 0.01125])
    assert max(sleeps) == 0.05
    assert sleeps == sorted(sleeps)
    assert sum(sleeps[:-1]) < 0.5 <= sum(sleeps)  # it stopped at the deadline


# --- the shared upstream budget ---------------------------------------------------------


def test_pace__one_budget_for_every_process(server: RedisServer) -> None:
    async def scenario() -> list[float | None]:
        one, other = layer(server.url, Clock()), layer(server.url, Clock())
        try:
            return [await one.pace(0.5), await other.pace(0.5), await one.pace(0.5)]
        finally:
            await one.close()
            await other.close()

    first, second, third = run(scenario)
    assert first == 0.0
    assert second is not None
    assert third is not None
    assert 0.4 < second <= 0.5
    assert 0.9 < third <= 1.0


# --- purges -------------------------------------------------------------------------------


def test_purge__one_keys_entries_then_all_and_every_process_hears_of_it(
    server: RedisServer,
) -> None:
    clock = Clock(1000.0)
    heard: list[str | None] = []

    def subscribers() -> int:
        counts = cast(list[Any], server.client().pubsub_numsub(PURGE_CHANNEL))
        return int(counts[0][1])

    async def scenario() -> tuple[int | None, list[bytes], int | None, list[bytes]]:
        one, other = layer(server.url, clock), layer(server.url, clock)
        listening = asyncio.ensure_future(other.listen(heard.append))
        try:
            await until(lambda: subscribers() == 1)
            for key in (KEY, KEY_2, BOBS):
                await one.put(key, entry(clock.now))
            alices = await one.purge(KEY.fingerprint)
            left = sorted(cast(list[bytes], server.client().keys("leads-proxy:leads:*")))
            everyone = await one.purge(None)
            after = cast(list[bytes], server.client().keys("leads-proxy:leads:*"))
            await until(lambda: len(heard) == 2)
            return alices, left, everyone, after
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
            await one.close()
            await other.close()

    alices, left, everyone, after = run(scenario)
    assert alices == 2
    assert left == [entry_key(BOBS).encode()]
    assert everyone == 1
    assert after == []
    assert heard == [KEY.fingerprint, None]
    store = server.client()
    assert store.get(purged_key(KEY.fingerprint)) == repr(WALL).encode()
    assert store.get(PURGED) == repr(WALL).encode()


# --- being up or down -----------------------------------------------------------------------


def test_ping__redis_gone_then_back(server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(1000.0)
    stats = Stats()

    async def short(seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.02))  # the watcher's second, shortened

    async def scenario() -> dict[str, Any]:
        shared = layer(server.url, clock, sleep=short, stats=stats)
        seen: dict[str, Any] = {}
        try:
            seen["up"] = await shared.ping()
            server.kill()
            seen["gone"] = await shared.ping()
            seen["available"] = shared.available
            errors = stats.redis_errors
            seen["get"] = await shared.get(KEY, hold_until=0.0)
            seen["claim"] = await shared.claim(KEY, token="t", hold=1.0)
            seen["tried"] = stats.redis_errors - errors  # answered at once, not tried
            seen["down"] = (stats.redis_up, stats.redis_outages)
            server.start()
            await until(lambda: shared.available, within=10.0)
            seen["back"] = (stats.redis_up, stats.redis_outages)
            seen["put"] = await shared.put(KEY, entry(clock.now))
            seen["again"] = await shared.ping()
            return seen
        finally:
            await shared.close()

    with caplog.at_level(logging.WARNING, logger="leads_proxy"):
        seen = run(scenario)
    assert (seen["up"], seen["gone"], seen["available"]) == (True, False, False)
    assert (seen["get"], seen["claim"], seen["tried"]) == (None, Claim.UNAVAILABLE, 0)
    assert seen["down"] == (0, 1)
    assert seen["back"] == (1, 1)
    assert (seen["put"], seen["again"]) == (True, True)
    told = [record.getMessage() for record in caplog.records]
    assert sum("unavailable" in line for line in told) == 1  # once, however many calls fail
    assert sum("is back" in line for line in told) == 1


def test_never_there__every_call_answers_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(1000.0)

    async def scenario() -> list[object]:
        shared = layer(f"redis://127.0.0.1:{free_port()}/0", clock)
        try:
            return [
                await shared.ping(),
                await shared.put(KEY, entry(clock.now)),
                await shared.get(KEY, hold_until=0.0),
                await shared.claim(KEY, token="t", hold=1.0),
                await shared.wait_for_fill(KEY, until=clock.now, hold_until=0.0),
                await shared.pace(0.5),
                await shared.purge(None),
                shared.available,
            ]
        finally:
            await shared.close()

    with caplog.at_level(logging.WARNING, logger="leads_proxy"):
        answers = run(scenario)
    assert answers == [False, False, None, Claim.UNAVAILABLE, Wait.UNAVAILABLE, None, None, False]
    assert "unavailable (ConnectionError)" in caplog.text


def test_full__a_refused_write_is_counted_and_told_once_but_redis_stays_up(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(1000.0)
    stats = Stats()
    server.client().config_set("maxmemory", 1)  # noeviction: every write refused

    async def scenario() -> tuple[bool, bool, bool, Claim | Cooling]:
        shared = layer(server.url, clock, stats=stats)
        try:
            first = await shared.put(KEY, entry(clock.now))
            second = await shared.put(KEY_2, entry(clock.now))
            return first, second, shared.available, await shared.claim(BOBS, token="t", hold=1.0)
        finally:
            await shared.close()

    with caplog.at_level(logging.WARNING, logger="leads_proxy"):
        first, second, available, claim = run(scenario)
    assert (first, second, available) == (False, False, True)
    assert claim is Claim.UNAVAILABLE  # a lock is a write too: that fill goes alone
    assert (stats.redis_full, stats.redis_outages, stats.redis_up) == (3, 0, 1)
    assert caplog.text.count("is full (maxmemory)") == 1


def test_where__host_port_and_db_never_a_password() -> None:
    shared = Shared("redis://:hunter2-secret@127.0.0.1:6390/3")
    assert shared.where == "127.0.0.1:6390/3"
    assert "hunter2" not in shared.where
    unix = Shared("unix:///tmp/redis.sock?db=2")
    assert unix.where == "/tmp/redis.sock (db 2)"
