"""The Redis layer's own logic without a server: the shared pacer.

The real Redis is exercised end to end in tests/e2e/test_shared.py; the
filling rules that use the layer are pinned in tests/unit/test_filling.py.
"""

from __future__ import annotations

import asyncio

import pytest

from app.shared import SharedPacer
from app.upstream import FILL, OTHER

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
        async def wait(self, priority: int = 0) -> None:
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
    pacer = SharedPacer(redisish, 10.0, alone=Alone())  # type: ignore[arg-type]

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
