"""Filling: single flight, background refreshes, cooldowns, and the shared layer's
fill lock and lookups, driven with a fake clock, a scripted upstream and a
typed fake shared layer (no Redis, no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Incoming
from leads_proxy.proxy.layer import Claim, Cooling, Wait
from leads_proxy.proxy.service import ProxyService
from tests.fakes import (
    AUTH,
    KEY,
    Clock,
    FakeShared,
    Script,
    answer,
    body_version,
    entry,
    get,
    header,
    hot_reply,
    make_proxy,
    ok,
    status,
    until,
)

LEADS = Incoming(headers=[AUTH])


def test_single_flight__concurrent_misses_share_one_request() -> None:
    script = Script([ok(1)])

    async def scenario() -> list[Reply]:
        script.gate = asyncio.Event()
        service = make_proxy(script, Clock())
        waiting = [asyncio.create_task(answer(service, LEADS)) for _ in range(50)]
        await until(lambda: service.stats.collapsed_waiters == 49)
        script.gate.set()
        return await asyncio.gather(*waiting)

    replies = asyncio.run(scenario())
    assert len(script.requests) == 1
    assert [reply.status for reply in replies] == [200] * 50


def test_single_flight__a_cancelled_waiter_leaves_the_fill_running() -> None:
    script = Script([ok(1)])

    async def scenario() -> tuple[ProxyService, Reply]:
        script.gate = asyncio.Event()
        service = make_proxy(script, Clock())
        first = asyncio.create_task(answer(service, LEADS))
        await until(lambda: script.requests)
        first.cancel()
        script.gate.set()
        await service.filler.drain()
        assert first.cancelled()
        return service, await answer(service, LEADS)

    service, reply = asyncio.run(scenario())
    assert header(reply, b"x-cache") == "HIT"
    assert service.stats.upstream_requests == 1


def test_refresh__serves_stale_and_refreshes_once_in_the_background() -> None:
    clock = Clock()
    script = Script([ok(1), ok(2)])
    service = make_proxy(script, clock, ttl=10, stale_while_revalidate=30)

    async def scenario() -> tuple[list[Reply], Reply]:
        await answer(service, LEADS)
        clock.now += 11
        script.gate = asyncio.Event()
        stale = [await answer(service, LEADS) for _ in range(5)]
        script.gate.set()
        await service.filler.drain()
        return stale, await answer(service, LEADS)

    stale, fresh = asyncio.run(scenario())
    assert {header(reply, b"x-cache") for reply in stale} == {"STALE"}
    assert {body_version(reply) for reply in stale} == {1}
    assert header(fresh, b"x-cache") == "HIT"
    assert body_version(fresh) == 2
    assert len(script.requests) == 2
    assert service.stats.background_refreshes == 1


def test_cooldown__holds_the_key_until_retry_after_passes() -> None:
    clock = Clock()
    script = Script([status(429, **{"Retry-After": "30"}), ok(1)])
    service = make_proxy(script, clock)
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
    service = make_proxy(Script([status(429)]), Clock())
    assert header(get(service), b"retry-after") == "10"


def test_cooldown__is_per_api_key() -> None:
    script = Script([status(429, **{"Retry-After": "30"}), ok(1)])
    service = make_proxy(script, Clock())
    assert get(service).status == 429
    other = Incoming(headers=[(b"authorization", b"Bearer 2|other")])
    assert asyncio.run(answer(service, other)).status == 200
    assert len(script.requests) == 2


# --- across processes: the shared layer's lock ---------------------------------------


def test_fill__the_lock_holder_asks_stores_for_all_and_releases() -> None:
    shared, script = FakeShared(), Script([ok(1)])
    reply = get(make_proxy(script, Clock(), shared=shared))
    assert body_version(reply) == 1
    assert len(script.requests) == 1
    assert [put[2] for put in shared.puts] == [False]
    assert shared.released == ["token-1"]


def test_fill__while_another_process_asks_the_entry_it_stores_is_served() -> None:
    clock = Clock()
    shared = FakeShared(claims=[Claim.TAKEN], waits=[entry(clock.now, version=7)])
    script = Script([ok(1)])
    service = make_proxy(script, clock, shared=shared)
    reply = get(service)
    assert body_version(reply) == 7
    assert script.requests == []
    assert "detail=filled-by-peer" in header(reply, b"cache-status")
    assert service.stats.shared_waits == 1
    assert shared.released == []  # never held it


def test_fill__a_peer_fill_that_lands_between_lookup_and_claim_is_served_not_asked_again() -> None:
    clock = Clock()
    shared = FakeShared(lands=entry(clock.now, version=7))  # stored and released: ours is MINE
    script = Script([ok(1)])
    reply = get(make_proxy(script, clock, shared=shared))
    assert body_version(reply) == 7
    assert script.requests == []
    assert "detail=filled-by-peer" in header(reply, b"cache-status")
    assert shared.released == ["token-1"]


def test_fill__no_cache_asks_the_upstream_even_when_the_layer_holds_the_copy_we_have() -> None:
    clock = Clock()
    shared = FakeShared()
    script = Script([ok(1), ok(2)])
    service = make_proxy(script, clock, shared=shared)
    get(service)
    reply = get(service, b"", (b"cache-control", b"no-cache"))
    assert body_version(reply) == 2
    assert len(script.requests) == 2


def test_fill__when_the_other_fill_fails_a_stale_copy_stands_in() -> None:
    clock = Clock()
    shared = FakeShared(claims=[Claim.MINE, Claim.TAKEN], waits=[Wait.RELEASED])
    script = Script([ok(1)])
    service = make_proxy(script, clock, shared=shared)
    get(service)
    clock.now += 100  # past fresh and stale-while-revalidate: only stale-if-error is left
    reply = get(service, b"", (b"cache-control", b"no-cache"))
    assert body_version(reply) == 1
    assert header(reply, b"x-cache") == "STALE"
    assert len(script.requests) == 1


def test_fill__when_the_other_fill_fails_and_nothing_is_stale_it_asks_itself() -> None:
    shared = FakeShared(claims=[Claim.TAKEN, Claim.MINE], waits=[Wait.RELEASED])
    script = Script([ok(1)])
    reply = get(make_proxy(script, Clock(), shared=shared))
    assert body_version(reply) == 1
    assert len(script.requests) == 1
    assert shared.released == ["token-1"]


@pytest.mark.parametrize("why", [Wait.TIMED_OUT, Wait.UNAVAILABLE], ids=lambda w: w.value)
def test_fill__a_wait_that_ends_without_an_answer_asks_alone(why: Wait) -> None:
    shared = FakeShared(claims=[Claim.TAKEN], waits=[why])
    script = Script([ok(1)])
    assert body_version(get(make_proxy(script, Clock(), shared=shared))) == 1
    assert len(script.requests) == 1
    assert shared.released == []  # the lock was never ours


def test_fill__shared_layer_unavailable_asks_alone() -> None:
    shared = FakeShared(claims=[Claim.UNAVAILABLE])
    script = Script([ok(1)])
    assert body_version(get(make_proxy(script, Clock(), shared=shared))) == 1
    assert len(script.requests) == 1


def test_cooldown__told_by_another_process_holds_this_one_too() -> None:
    clock = Clock()
    shared = FakeShared(claims=[Cooling(4.2)])
    script = Script([ok(1)])
    service = make_proxy(script, clock, shared=shared)
    reply = get(service)
    assert reply.status == 429
    assert header(reply, b"retry-after") == "5"
    assert script.requests == []
    # The wait is now this process's too: the layer need not say it again.
    shared.claims = [Claim.MINE]
    assert get(service).status == 429
    clock.now += 4.3
    assert get(service).status == 200


def test_cooldown__a_429_here_is_told_to_every_process() -> None:
    shared = FakeShared()
    script = Script([status(429, **{"Retry-After": "7"})])
    assert get(make_proxy(script, Clock(), shared=shared)).status == 429
    assert shared.cooled == [pytest.approx(7.0)]


# --- the in-process layer in front of the shared one ---------------------------------------


def test_hold__past_hold_a_fresh_copy_is_served_while_the_layer_is_asked_once() -> None:
    clock = Clock()
    shared = FakeShared()
    script = Script([ok(1)])
    service = make_proxy(script, clock, shared=shared, hold=1.0)

    async def scenario() -> None:
        await answer(service, LEADS)
        assert hot_reply(service, b"", [AUTH]) is not None
        clock.now += 1.5
        assert hot_reply(service, b"", [AUTH]) is None  # held long enough: ask the layer
        shared.entries[KEY] = entry(clock.now, version=9)  # another process refreshed it
        lookups_before = len(shared.lookups)
        meanwhile = await asyncio.gather(*(answer(service, LEADS) for _ in range(20)))
        # Ours is still fresh: served at once, while one lookup brings the layer's copy.
        assert {body_version(reply) for reply in meanwhile} == {1}
        assert {header(reply, b"x-cache") for reply in meanwhile} == {"HIT"}
        await service.filler.drain()
        assert len(shared.lookups) - lookups_before == 1
        assert body_version(await answer(service, LEADS)) == 9
        assert hot_reply(service, b"", [AUTH]) is not None

    asyncio.run(scenario())
    assert service.stats.shared_hits == 1
    assert len(script.requests) == 1


def test_hold__without_a_fresh_copy_concurrent_requests_share_one_lookup() -> None:
    clock = Clock()
    shared = FakeShared()
    shared.entries[KEY] = entry(clock.now, version=4)
    script = Script([ok(1)])
    service = make_proxy(script, clock, shared=shared)

    async def scenario() -> list[Reply]:
        return await asyncio.gather(*(answer(service, LEADS) for _ in range(20)))

    replies = asyncio.run(scenario())
    assert {body_version(reply) for reply in replies} == {4}
    assert len(shared.lookups) == 1
    assert script.requests == []


def test_hold__a_layer_that_lost_the_entry_gets_ours_back() -> None:
    clock = Clock()
    shared = FakeShared()
    service = make_proxy(Script([ok(1)]), clock, shared=shared, hold=1.0)

    async def scenario() -> None:
        await answer(service, LEADS)
        shared.entries.clear()  # Redis restarted empty
        clock.now += 1.5
        reply = await answer(service, LEADS)
        assert body_version(reply) == 1
        await service.filler.drain()

    asyncio.run(scenario())
    assert shared.puts[-1][2] is True  # restored: a newer fill or a purge since wins
    assert KEY in shared.entries


def test_hold__with_the_layer_down_our_copy_is_held_again_and_nothing_is_written() -> None:
    clock = Clock()
    shared = FakeShared()
    service = make_proxy(Script([ok(1)]), clock, shared=shared, hold=1.0)

    async def scenario() -> None:
        await answer(service, LEADS)
        shared.available = False
        writes = len(shared.puts)
        clock.now += 1.5
        assert hot_reply(service, b"", [AUTH]) is None
        reply = await answer(service, LEADS)
        assert header(reply, b"x-cache") == "HIT"
        await service.filler.drain()
        # Back on the hot path for another hold, without the layer.
        assert hot_reply(service, b"", [AUTH]) is not None
        assert len(shared.puts) == writes

    asyncio.run(scenario())
