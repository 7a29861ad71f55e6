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
    "shared_hits",  # answers taken from Redis into this process
    "shared_waits",  # fills waited for while another process asked the upstream
    "redis_errors",
    "redis_outages",
)
GAUGES = ("entries", "bytes", "keys_cooling_down", "redis_up")  # summed over live workers
# The block: counters, then gauges, then one counter per upstream error kind.
CELLS = COUNTERS + GAUGES
FIRST_ERROR = len(CELLS)
SIZE = FIRST_ERROR + len(ERROR_KINDS)
SUFFIX = ".stats"


class _Cell:
    """One int64 cell of a Stats block, read and written as the attribute of its name."""

    __slots__ = ("index",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.index = CELLS.index(name)

    def __get__(self, stats: Stats, owner: object = None) -> int:
        value: int = stats.cells[self.index]
        return value

    def __set__(self, stats: Stats, value: int) -> None:
        stats.cells[self.index] = value


class Stats:
    """Counters since start, and a few gauges; `totals` sums over all workers."""

    requests = _Cell()
    hits = _Cell()
    misses = _Cell()
    stale_served = _Cell()
    bypassed = _Cell()
    not_modified = _Cell()
    collapsed_waiters = _Cell()
    background_refreshes = _Cell()
    fallback_served = _Cell()
    upstream_requests = _Cell()
    forwarded = _Cell()
    invalidations = _Cell()
    shared_hits = _Cell()
    shared_waits = _Cell()
    redis_errors = _Cell()
    redis_outages = _Cell()
    entries = _Cell()
    bytes = _Cell()
    keys_cooling_down = _Cell()
    redis_up = _Cell()

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._buffer: bytearray | mmap.mmap
        if directory is None:
            self._buffer = bytearray(SIZE * 8)
        else:
            path = directory / f"{os.getpid()}{SUFFIX}"
            with path.open("wb+") as file:
                file.write(bytes(SIZE * 8))
                file.flush()
                self._buffer = mmap.mmap(file.fileno(), SIZE * 8)
        self.cells = memoryview(self._buffer).cast("q")

    def upstream_error(self, kind: str) -> None:
        index = ERROR_KINDS.index(kind) if kind in ERROR_KINDS else len(ERROR_KINDS) - 1
        self.cells[FIRST_ERROR + index] += 1

    def totals(self) -> dict[str, Any]:
        """Counters and gauges of this process, or of all workers when there are several."""
        blocks = [(True, list(self.cells))]
        if self.directory is not None:
            blocks = _blocks(self.directory)
        gauges = range(len(COUNTERS), FIRST_ERROR)
        summed = [0] * SIZE
        for alive, cells in blocks:
            for index, value in enumerate(cells):
                if alive or index not in gauges:
                    summed[index] += value
        errors = dict(zip(ERROR_KINDS, summed[FIRST_ERROR:], strict=True))
        return {
            **dict(zip(COUNTERS, summed, strict=False)),
            "upstream_errors": {kind: n for kind, n in sorted(errors.items()) if n},
            **dict(zip(GAUGES, summed[len(COUNTERS) :], strict=False)),
            "workers": sum(1 for alive, _ in blocks if alive),
        }


def _blocks(directory: Path) -> list[tuple[bool, list[int]]]:
    """(alive, cells) of every worker's file."""
    found = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        with contextlib.suppress(OSError, ValueError):
            data = path.read_bytes()
            if len(data) == SIZE * 8:
                found.append((_alive(int(path.stem)), list(memoryview(data).cast("q"))))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and someone else's
    return True
