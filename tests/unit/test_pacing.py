"""The upstream budget: slots 1/rps apart, fills first, no slot for a waiter that left;
and the shared budget booked in Redis (a fake book here; the real one in tests/e2e)."""

from __future__ import annotations

import asyncio

import pytest

from leads_proxy.proxy.pacing import FILL, OTHER, Pacer, SharedPacer
from tests.fakes import Clock


def paced(rps: float) -> tuple[Pacer, Clock]:
    """A pacer on a fake clock that its sleeps move forward."""
    clock = Clock(0.0)

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # those given a slot run first, at the time they got it
        clock.now += seconds

    return Pacer(rps, clock=clock, sleep=sleep), clock


def test_pacer__spaces_requests_evenly() -> None:
    pacer, clock = paced(4)
    given: list[float] = []

    async def five() -> None:
        for _ in range(5):
            await pacer.wait()
            given.append(clock.now)

    asyncio.run(five())
    assert given == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_pacer__fills_go_first_and_a_cancelled_waiter_takes_no_slot() -> None:
    pacer, clock = paced(10)
    order: list[str] = []

    async def one(name: str, priority: int) -> None:
        await pacer.wait(priority)
        order.append(f"{name}@{clock.now:.1f}")

    async def scenario() -> None:
        await pacer.wait(OTHER)  # takes the free slot at 0.0
        others = [asyncio.create_task(one(f"other{n}", OTHER)) for n in range(3)]
        await asyncio.sleep(0)
        others[0].cancel()  # its client left
        fill = asyncio.create_task(one("fill", FILL))
        await asyncio.gather(fill, *others[1:])

    asyncio.run(scenario())
    assert order == ["fill@0.1", "other1@0.2", "other2@0.3"]


def test_pacer__waits_the_slot_redis_gives_or_paces_alone_when_it_is_down() -> None:
    slept: list[float] = []
    alone: list[str] = []

    class Redisish:
        delay: float | None = 0.25

        async def pace(self, interval: float) -> float | None:
            assert interval == pytest.approx(0.1)
            return self.delay

    class Alone:
        async def wait(self, priority: int = 0) -> None:
            alone.append("waited")

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    redisish = Redisish()
    pacer = SharedPacer(redisish, 10.0, alone=Alone(), sleep=sleep)
    asyncio.run(pacer.wait())
    redisish.delay = None
    asyncio.run(pacer.wait())
    assert slept == [0.25]
    assert alone == ["waited"]


def test_shared_pacer__fills_book_first_and_a_cancelled_waiter_books_nothing() -> None:
    bookings: list[float] = []
    served: list[str] = []

    class Redisish:
        gate: asyncio.Event | None = None

        async def pace(self, interval: float) -> float | None:
            bookings.append(interval)
            if self.gate is not None:
                await self.gate.wait()  # a slow round trip: the others queue meanwhile
            return 0.0

    class Alone:
        async def wait(self, priority: int = 0) -> None:
            raise AssertionError("Redis answered: never paced alone")

    redisish = Redisish()
    pacer = SharedPacer(redisish, 10.0, alone=Alone())

    async def one(name: str, priority: int) -> None:
        await pacer.wait(priority)
        served.append(name)

    async def scenario() -> None:
        redisish.gate = asyncio.Event()
        first = asyncio.create_task(one("first", OTHER))
        await asyncio.sleep(0)  # first holds the turn and books
        others = [asyncio.create_task(one(f"other{n}", OTHER)) for n in range(2)]
        fill = asyncio.create_task(one("fill", FILL))
        await asyncio.sleep(0)
        others[0].cancel()  # its client left before its turn
        redisish.gate.set()
        await asyncio.gather(first, fill, others[1])

    asyncio.run(scenario())
    assert served == ["first", "fill", "other1"]
    assert len(bookings) == 3  # the cancelled one booked no slot in Redis
