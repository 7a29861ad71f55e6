"""Counters: one list of names, summed over workers, one count per answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leads_proxy.observe.stats import CELLS, COUNTERS, GAUGES, Stats


def test_stats__totals_sum_every_workers_counters_and_live_workers_gauges(tmp_path: Path) -> None:
    mine = Stats(tmp_path)
    mine.requests += 3
    mine.upstream_error("timeout")
    mine.entries = 2
    # A worker that ran and died: its counters count, its gauges do not.
    dead = Stats()
    dead.requests = 5
    dead.entries = 40
    dead.upstream_error("timeout")
    dead.upstream_error("no-such-kind")
    (tmp_path / "999999999.stats").write_bytes(bytes(dead.cells))
    totals = mine.totals()
    assert totals["requests"] == 8
    assert totals["entries"] == 2
    assert totals["upstream_errors"] == {"timeout": 2, "error": 1}
    assert totals["workers"] == 1
    assert (tmp_path / f"{os.getpid()}.stats").exists()


def test_stats__alone_counts_in_memory() -> None:
    stats = Stats()
    stats.hits += 1
    assert stats.totals()["hits"] == 1
    assert stats.totals()["workers"] == 1


@pytest.mark.parametrize(
    ("label", "cell"),
    [("HIT", "hits"), ("STALE", "stale_served"), ("MISS", "misses"), ("BYPASS", "bypassed")],
)
def test_stats__an_answer_counts_once_under_its_label(label: str, cell: str) -> None:
    stats = Stats()
    stats.answered(label, 304)
    totals = stats.totals()
    assert totals["requests"] == 1
    assert totals["not_modified"] == 1
    assert {name for name in COUNTERS if totals[name]} == {"requests", "not_modified", cell}


def test_stats__names_come_from_the_class_once() -> None:
    assert set(COUNTERS) | set(GAUGES) == set(CELLS)
    assert len(set(CELLS)) == len(CELLS)
    assert set(Stats().totals()) == {*CELLS, "upstream_errors", "workers"}
