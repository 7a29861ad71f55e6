"""--upstream-max-rps: the upstream budget, in one process or shared by all.

Waiters queue by priority (a keyed listing fill before anything else) and are
let through one at a time; one that is cancelled (its client left) leaves the
queue without using anything. `Pacer` gives out slots 1/rps apart in this
process; `SharedPacer` books each slot in Redis, so every process draws on one
budget, and paces alone while Redis is down.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from ..http.clock import Clock

FILL, OTHER = 0, 1  # priorities: a keyed listing fill goes before anything else
Sleep = Callable[[float], Awaitable[None]]


class Pace(Protocol):
    """Waits for the next slot the upstream budget allows."""

    async def wait(self, priority: int = FILL) -> None: ...


class SlotBook(Protocol):
    """Where the shared budget's slots are booked (Redis)."""

    async def pace(self, interval: float) -> float | None:
        """Seconds until the slot booked now; None when the book cannot be reached."""


class _Queue:
    """Waiters by priority, then arrival; a cancelled one is passed over."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __bool__(self) -> bool:
        return bool(self._heap)

    def join(self, priority: int) -> asyncio.Future[None]:
        """A turn to await: resolved when `admit_next` lets this waiter through."""
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (priority, next(self._order), turn))
        return turn

    def admit_next(self) -> bool:
        """Let the first waiter still waiting through; False if there is none."""
        while self._heap:
            _, _, turn = heapq.heappop(self._heap)
            if not turn.done():
                turn.set_result(None)
                return True
        return False


class Pacer:
    """Spaces requests at least 1/rps apart, across the whole process.

    Slots are given out when they come, not booked ahead, so a waiter that
    leaves the queue takes none.
    """

    def __init__(
        self, rps: float | None, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._interval = 1 / rps if rps else 0.0
        self._next = 0.0
        self._clock = clock
        self._sleep = sleep
        self._queue = _Queue()
        self._giver: asyncio.Task[None] | None = None

    async def wait(self, priority: int = FILL) -> None:
        if not self._interval:
            return
        now = self._clock()
        if not self._queue and now >= self._next:
            self._next = now + self._interval  # a free slot, now
            return
        turn = self._queue.join(priority)
        if self._giver is None or self._giver.done():
            self._giver = asyncio.get_running_loop().create_task(self._give())
        await turn  # cancelled with its request: the giver passes it over

    async def _give(self) -> None:
        while self._queue:
            wait = self._next - self._clock()
            if wait > 0:
                await self._sleep(wait)
            elif self._queue.admit_next():
                self._next = self._clock() + self._interval


class SharedPacer:
    """--upstream-max-rps as one budget for every process; alone while Redis is down.

    Within a process, waiters book a slot one at a time, when their turn comes
    (across processes, slots go first come, first served).
    """

    def __init__(
        self, book: SlotBook, rps: float, *, alone: Pace, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._book = book
        self._interval = 1 / rps
        self._alone = alone
        self._sleep = sleep
        self._queue = _Queue()
        self._booking = False

    async def wait(self, priority: int = FILL) -> None:
        turn = self._queue.join(priority)
        if not self._booking:
            self._booking = self._queue.admit_next()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # given the turn, then cancelled
                self._booking = self._queue.admit_next()
            raise
        try:
            delay = await self._book.pace(self._interval)
            if delay is None:
                await self._alone.wait(priority)
            elif delay > 0:
                await self._sleep(delay)
        finally:
            self._booking = self._queue.admit_next()
