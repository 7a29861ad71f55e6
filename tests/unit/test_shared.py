"""The Redis layer's own logic without a server: entries across clocks, the shared pacer.

The real Redis is exercised end to end in tests/e2e/test_shared.py; the
filling rules that use the layer are pinned in tests/unit/test_filling.py.
"""

from __future__ import annotations

import asyncio

import pytest

from app.redis_format import decode_entry, encode_entry
from app.shared import SharedPacer
from tests.fakes import entry

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
