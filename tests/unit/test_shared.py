"""The Redis layer's own logic without a server: the shared pacer.

The real Redis is exercised end to end in tests/e2e/test_shared.py; the
filling rules that use the layer are pinned in tests/unit/test_filling.py.
"""

from __future__ import annotations

import asyncio

import pytest

from app.shared import SharedPacer

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
