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
    """One int64 cell of a Stats block, read and written as the attribute of its name.

    The cells are numbered in the order the class declares them: the class
    body is the one list of the counters, with what each means (`help`) and,
    for the leads answers, the `cache` label Prometheus shows them under.
    """

    __slots__ = ("cache", "help", "index", "name")
    gauge = False
    declared: list[_Cell] = []  # noqa: RUF012 - filled as the class body runs

    def __init__(self, help_text: str, *, cache: str | None = None) -> None:
        self.help = help_text
        self.cache = cache
        self.index = len(_Cell.declared)
        _Cell.declared.append(self)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, stats: Stats, owner: object = None) -> int:
        value: int = stats.cells[self.index]
        return value

    def __set__(self, stats: Stats, value: int) -> None:
        stats.cells[self.index] = value


class _Gauge(_Cell):
    """A cell that tells the state of a live worker: summed over live workers only."""

    __slots__ = ()
    gauge = True


class Stats:
    """Counters since start, and a few gauges; `totals` sums over all workers."""

    requests = _Cell("Requests handled")
    hits = _Cell("Fresh answers from the cache", cache="hit")
    misses = _Cell("Answers that went to the upstream, or could not", cache="miss")
    stale_served = _Cell("Stale answers (revalidating, rate-limited, failed)", cache="stale")
    bypassed = _Cell("Answers to requests without a key, never cached", cache="bypass")
    not_modified = _Cell("304 answers")
    collapsed_waiters = _Cell("Requests that waited on another's upstream request")
    background_refreshes = _Cell("Stale entries refreshed in the background")
    fallback_served = _Cell("Misses answered from the fixtures", cache="fallback")
    upstream_requests = _Cell("Requests sent to the upstream")
    forwarded = _Cell("Other API requests forwarded")
    invalidations = _Cell("Cache drops after a write to a lead")
    shared_hits = _Cell("Answers taken from the shared cache (Redis)")
    shared_waits = _Cell("Fills waited for while another process asked the upstream")
    redis_errors = _Cell("Redis calls that failed or timed out")
    redis_outages = _Cell("Times Redis went from answering to not")
    redis_full = _Cell("Redis writes refused because it is full (maxmemory)")
    entries = _Gauge("Entries in the cache")
    bytes = _Gauge("Bytes held by the cache")
    keys_cooling_down = _Gauge("API keys waiting out an upstream 429")
    redis_up = _Gauge("Workers that reach Redis now")

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._buffer = cell_block(directory, SIZE, SUFFIX)
        self.cells = memoryview(self._buffer).cast("q")

    def answered(self, x_cache: str, status: int) -> None:
        """One leads answer, counted under its X-Cache label (HIT, STALE, MISS, BYPASS)."""
        cells = self.cells
        cells[REQUESTS] += 1
        cells[BY_LABEL[x_cache]] += 1
        if status == 304:
            cells[NOT_MODIFIED] += 1

    def upstream_error(self, kind: str) -> None:
        index = ERROR_KINDS.index(kind) if kind in ERROR_KINDS else len(ERROR_KINDS) - 1
        self.cells[FIRST_ERROR + index] += 1

    def totals(self) -> dict[str, Any]:
        """Counters and gauges of this process, or of all workers when there are several."""
        blocks = [(True, list(self.cells))]
        if self.directory is not None:
            blocks = _blocks(self.directory)
        gauges = {_INDEX[name] for name in GAUGES}
        summed = [0] * SIZE
        for alive, cells in blocks:
            for index, value in enumerate(cells):
                if alive or index not in gauges:
                    summed[index] += value
        errors = dict(zip(ERROR_KINDS, summed[FIRST_ERROR:], strict=True))
        return {
            **{name: summed[_INDEX[name]] for name in COUNTERS},
            "upstream_errors": {kind: n for kind, n in sorted(errors.items()) if n},
            **{name: summed[_INDEX[name]] for name in GAUGES},
            "workers": sum(1 for alive, _ in blocks if alive),
        }


DECLARED: tuple[_Cell, ...] = tuple(_Cell.declared)
CELLS = tuple(cell.name for cell in DECLARED)
COUNTERS = tuple(cell.name for cell in _Cell.declared if not cell.gauge)
GAUGES = tuple(cell.name for cell in _Cell.declared if cell.gauge)
FIRST_ERROR = len(CELLS)
SIZE = FIRST_ERROR + len(ERROR_KINDS)
_INDEX = {name: index for index, name in enumerate(CELLS)}
REQUESTS, NOT_MODIFIED = _INDEX["requests"], _INDEX["not_modified"]
BY_LABEL = {
    "HIT": _INDEX["hits"],
    "STALE": _INDEX["stale_served"],
    "MISS": _INDEX["misses"],
    "BYPASS": _INDEX["bypassed"],
}


def cell_block(directory: Path | None, size: int, suffix: str) -> bytearray | mmap.mmap:
    """`size` int64 cells of zeros: in memory, or in a file of this process's in
    `directory` (named by its pid, ending in `suffix`), mapped into memory."""
    if directory is None:
        return bytearray(size * 8)
    path = directory / f"{os.getpid()}{suffix}"
    with path.open("wb+") as file:
        file.write(bytes(size * 8))
        file.flush()
        return mmap.mmap(file.fileno(), size * 8)


def worker_blocks(directory: Path, size: int, suffix: str) -> list[tuple[bool, list[int]]]:
    """(alive, cells) of every worker's file of `size` cells ending in `suffix`."""
    found = []
    for path in sorted(directory.glob(f"*{suffix}")):
        with contextlib.suppress(OSError, ValueError):
            data = path.read_bytes()
            if len(data) == size * 8:
                found.append((_alive(int(path.stem)), list(memoryview(data).cast("q"))))
    return found


def _blocks(directory: Path) -> list[tuple[bool, list[int]]]:
    return worker_blocks(directory, SIZE, SUFFIX)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, and someone else's
    return True
