"""The last 15 minutes, second by second, for the status page's charts.

A ring of 900 slots of int64 cells, one slot a second (by wall-clock time, so
that the workers of one server agree): the slot's second, answers by result,
upstream requests, and upstream latencies in a histogram. Counting an answer
is a clock read and a cell increment (the slot is cleared when its second
comes round again). Under `--workers N` each worker's ring is a file of its own
in the server's folder, mapped into memory like its counters (`observe.stats`),
and reading sums the workers' slots of each second.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .stats import cell_block, worker_blocks

SECONDS = 900
LABELS = ("hit", "stale", "miss", "bypass", "mock")
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000, 60_000)  # upper bounds; then +inf
_UPSTREAM = 1 + len(LABELS)
_FIRST_BUCKET = _UPSTREAM + 1
SLOT = _FIRST_BUCKET + len(BUCKETS_MS) + 1
SIZE = SECONDS * SLOT
SUFFIX = ".history"
LABEL_INDEX = {label: 1 + index for index, label in enumerate(LABELS)}
MOCK = LABEL_INDEX["mock"]
BY_X_CACHE = {label.upper(): index for label, index in LABEL_INDEX.items()}


class History:
    """Per-second counts of one process (and, with a folder, read over all workers)."""

    def __init__(self, directory: Path | None = None, *, clock: Callable[[], float] = time.time):
        self.directory = directory
        self._clock = clock
        self._buffer = cell_block(directory, SIZE, SUFFIX)
        self.cells = memoryview(self._buffer).cast("q")
        self._wall_offset = clock() - time.perf_counter()  # perf_counter() -> wall clock
        self._second, self._base = -1, 0  # the slot answers go to now

    def answered_at(self, started: float, index: int) -> None:
        """One answer (`index`: MOCK or a BY_X_CACHE value), `started` a perf_counter()."""
        second = int(started + self._wall_offset)
        # The same second as the answer before (nearly always): its slot, with no call.
        base = self._base if second == self._second else self._base_at(second)
        self.cells[base + index] += 1

    def answered(self, x_cache: str) -> None:
        """One answer of the proxy modes, by its X-Cache label (HIT, STALE, MISS, BYPASS)."""
        index = BY_X_CACHE.get(x_cache, MOCK)
        self.cells[self._base_at(int(self._clock())) + index] += 1

    def upstream(self, seconds: float) -> None:
        """One upstream request, and how long it took."""
        base = self._base_at(int(self._clock()))
        self.cells[base + _UPSTREAM] += 1
        self.cells[base + _FIRST_BUCKET + bisect_left(BUCKETS_MS, seconds * 1000)] += 1

    def _base_at(self, second: int) -> int:
        """Where this second's cells start; a slot that held an older second starts afresh."""
        if second != self._second:
            base = (second % SECONDS) * SLOT
            cells = self.cells
            if cells[base] != second:
                cells[base : base + SLOT] = memoryview(bytes(SLOT * 8)).cast("q")
                cells[base] = second
            self._base, self._second = base, second
        return self._base

    def last(self, seconds: int = SECONDS) -> dict[str, Any]:
        """The last `seconds` seconds, oldest first: answers by result, upstream requests,
        hit ratio and upstream p50/p99 (ms, a bucket's upper bound) per second."""
        now = int(self._clock())
        first = now - seconds + 1
        summed = [[0] * SLOT for _ in range(seconds)]
        for cells in self._blocks():
            for slot in range(SECONDS):
                base = slot * SLOT
                second = cells[base]
                if first <= second <= now:
                    row = summed[second - first]
                    for index in range(1, SLOT):
                        row[index] += cells[base + index]
        series: dict[str, Any] = {"from": first, "seconds": seconds}
        for label, index in LABEL_INDEX.items():
            series[label] = [row[index] for row in summed]
        series["upstream"] = [row[_UPSTREAM] for row in summed]
        series["hit_ratio"] = [_ratio(row) for row in summed]
        series["upstream_p50_ms"] = [_quantile(row, 0.5) for row in summed]
        series["upstream_p99_ms"] = [_quantile(row, 0.99) for row in summed]
        return series

    def _blocks(self) -> list[list[int]]:
        if self.directory is None:
            return [list(self.cells)]
        return [cells for _, cells in worker_blocks(self.directory, SIZE, SUFFIX)]


def _ratio(row: list[int]) -> float | None:
    hits = row[LABEL_INDEX["hit"]] + row[LABEL_INDEX["stale"]]
    asked = hits + row[LABEL_INDEX["miss"]]
    return round(hits / asked, 3) if asked else None


def _quantile(row: list[int], share: float) -> float | None:
    counts = row[_FIRST_BUCKET:]
    total = sum(counts)
    if not total:
        return None
    wanted, seen = share * total, 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= wanted:
            return float(BUCKETS_MS[index]) if index < len(BUCKETS_MS) else None
    return None  # pragma: no cover - the loop always reaches the total
