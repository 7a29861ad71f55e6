"""Counters that stay right when a server runs as several uvicorn workers.

Each process counts into a block of 64-bit cells: its own memory when it runs
alone, or, under `--workers N`, a file of its own (named by its process id)
mapped into memory, in a directory that all workers of one server share. A
cell costs the same to bump either way. Whichever worker is asked for the
numbers sums every file: counters of all workers that ever ran (a worker
that died still counted its requests), gauges of the live ones.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path
from typing import Any

ERROR_KINDS = ("timeout", "unavailable", "status_5xx", "garbage", "rate_limited", "error")
SUFFIX = ".stats"


class _Cell:
    """One int64 cell of a Stats block, read and written as an attribute."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __get__(self, stats: Stats, owner: object = None) -> int:
        value: int = stats.cells[self.index]
        return value

    def __set__(self, stats: Stats, value: int) -> None:
        stats.cells[self.index] = value


class Stats:
    """Counters since start, and a few gauges; `totals` sums over all workers."""

    requests = _Cell(0)
    hits = _Cell(1)
    misses = _Cell(2)
    stale_served = _Cell(3)
    bypassed = _Cell(4)
    not_modified = _Cell(5)
    collapsed_waiters = _Cell(6)
    background_refreshes = _Cell(7)
    fallback_served = _Cell(8)
    upstream_requests = _Cell(9)
    forwarded = _Cell(10)
    invalidations = _Cell(11)
    shared_hits = _Cell(12)  # answers taken from Redis into this process
    shared_waits = _Cell(13)  # fills waited for while another process asked the upstream
    redis_errors = _Cell(14)
    redis_outages = _Cell(15)
    # Gauges: each worker's own value, summed over the live workers.
    entries = _Cell(16)
    bytes = _Cell(17)
    keys_cooling_down = _Cell(18)
    redis_up = _Cell(19)

    COUNTERS = (
        "requests",
        "hits",
        "misses",
        "stale_served",
        "bypassed",
        "not_modified",
        "collapsed_waiters",
        "background_refreshes",
        "fallback_served",
        "upstream_requests",
        "forwarded",
        "invalidations",
        "shared_hits",
        "shared_waits",
        "redis_errors",
        "redis_outages",
    )
    GAUGES = ("entries", "bytes", "keys_cooling_down", "redis_up")
    GAUGES_FROM = 16
    FIRST_ERROR = 20
    SIZE = FIRST_ERROR + len(ERROR_KINDS)

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._buffer: bytearray | mmap.mmap
        if directory is None:
            self._buffer = bytearray(self.SIZE * 8)
        else:
            path = directory / f"{os.getpid()}{SUFFIX}"
            with path.open("wb+") as file:
                file.write(bytes(self.SIZE * 8))
                file.flush()
                self._buffer = mmap.mmap(file.fileno(), self.SIZE * 8)
        self.cells = memoryview(self._buffer).cast("q")

    def upstream_error(self, kind: str) -> None:
        index = ERROR_KINDS.index(kind) if kind in ERROR_KINDS else len(ERROR_KINDS) - 1
        self.cells[self.FIRST_ERROR + index] += 1

    def totals(self) -> dict[str, Any]:
        """Counters and gauges of this process, or of all workers when there are several."""
        blocks = [(True, list(self.cells))]
        if self.directory is not None:
            blocks = list(_blocks(self.directory, self.SIZE))
        summed = [0] * self.SIZE
        for alive, cells in blocks:
            for index, value in enumerate(cells):
                is_gauge = self.GAUGES_FROM <= index < self.FIRST_ERROR
                if alive or not is_gauge:
                    summed[index] += value
        counters = {name: summed[index] for index, name in enumerate(self.COUNTERS)}
        gauges = {name: summed[self.GAUGES_FROM + i] for i, name in enumerate(self.GAUGES)}
        errors = {
            kind: summed[self.FIRST_ERROR + index]
            for index, kind in enumerate(ERROR_KINDS)
            if summed[self.FIRST_ERROR + index]
        }
        return {
            **counters,
            "upstream_errors": dict(sorted(errors.items())),
            **gauges,
            "workers": sum(1 for alive, _ in blocks if alive),
        }


def _blocks(directory: Path, size: int) -> list[tuple[bool, list[int]]]:
    found = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        with contextlib.suppress(OSError, ValueError):
            data = path.read_bytes()
            if len(data) == size * 8:
                found.append((_alive(int(path.stem)), list(memoryview(data).cast("q"))))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
