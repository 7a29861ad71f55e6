"""Reading the journal costs what it returns: only the entries shown are worked out,
and each path and query is masked once, however often the journal is read."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head
from leads_proxy.http.service import Served
from leads_proxy.observe.journal import Journal

AUTH = ((b"authorization", b"Bearer 1|journal-cost-key"),)
SIZE = 1000


def parses_in(read: Callable[[], object]) -> int:
    """How many queries `read` took apart (urllib's parse_qsl, the costly step)."""
    calls = 0

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code.co_name == "parse_qsl":
            calls += 1

    sys.setprofile(profile)
    try:
        read()
    finally:
        sys.setprofile(None)
    return calls


def full_journal() -> Journal:
    """A full journal of many-pair queries, each percent-encoded (the costly kind)."""
    journal = Journal(SIZE)
    served = Served(Reply(200, ()), "HIT")
    for n in range(SIZE):
        query = b"&".join(b"f%d=%%41%d" % (pair, n) for pair in range(200))
        head = Head.read("GET", "/api/user/leads", query, AUTH)
        journal.note(head, 200, served, time.perf_counter(), 0.001)
    return journal


def test_journal_cost__a_page_works_out_only_the_entries_it_returns() -> None:
    journal = full_journal()
    assert parses_in(lambda: journal.entries(limit=50)) <= 50
    assert parses_in(lambda: journal.entries(limit=50)) == 0  # each query masked once
    assert parses_in(lambda: journal.entries(status=404)) == 0  # nothing returned


def test_journal_cost__reading_the_whole_journal_again_masks_nothing_again() -> None:
    journal = full_journal()
    assert len(journal.entries()) == SIZE
    assert parses_in(journal.entries) == 0
