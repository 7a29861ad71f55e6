"""The per-second ring behind the status page: slots by wall-clock second, reused
after 15 minutes, hit ratio and latency quantiles from the histogram."""

from __future__ import annotations

import time
from pathlib import Path

from leads_proxy.observe.history import MOCK, SECONDS, History
from tests.fakes import Clock


def test_history__counts_by_second_and_forgets_after_fifteen_minutes() -> None:
    clock = Clock(now=1_800_000_000.0)
    history = History(clock=clock)
    history.answered("HIT")
    history.answered("HIT")
    history.answered("MISS")
    history.upstream(0.040)
    clock.now += 1
    history.answered("STALE")
    history.upstream(0.300)
    last = history.last(5)
    assert last["hit"] == [0, 0, 0, 2, 0]
    assert last["stale"][-1] == 1
    assert last["upstream"][-2:] == [1, 1]
    assert last["hit_ratio"][-2:] == [round(2 / 3, 3), 1.0]
    assert last["upstream_p50_ms"][-2:] == [50.0, 500.0]  # bucket upper bounds
    assert last["hit_ratio"][0] is None  # nothing asked: no ratio
    clock.now += SECONDS  # the same slot, a new second: the old counts are gone
    history.answered("MISS")
    assert sum(history.last()["hit"]) == 0
    assert sum(history.last()["miss"]) == 1


def test_history__the_hot_path_way_counts_in_the_same_slots() -> None:
    history = History()
    started = time.perf_counter()
    for _ in range(3):
        history.answered_at(started, MOCK)
    assert sum(history.last(10)["mock"]) == 3


def test_history__workers_files_are_summed(tmp_path: Path) -> None:
    clock = Clock(now=1_800_000_000.0)
    one = History(tmp_path, clock=clock)
    one.answered("HIT")
    # A second worker's file, as another process would leave it.
    other = tmp_path / f"{99_999_999}.history"
    other.write_bytes(bytes(one.cells))
    assert sum(one.last(3)["hit"]) == 2
