"""The request journal: bounded, masked, fingerprinted, filtered, newest first."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest

from leads_proxy.http.keys import fingerprint_of
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head
from leads_proxy.http.service import Served
from leads_proxy.observe.journal import Journal, mask_phones
from tests.fakes import Clock

AUTH = ((b"authorization", b"Bearer 1|journal-secret-key"),)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+971501234567", "+**********67"),
        ("971501234567", "**********67"),
        ("+1 (415) 555-0123", "+* (***) ***-**23"),
        ("completed", "completed"),
        ("123456", "123456"),  # too short to be a phone number
        ("2025-06-30", "2025-06-30"),
    ],
)
def test_mask_phones__all_but_the_last_two_digits(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


def test_journal__bounded_newest_first_with_fields_worked_out_on_reading() -> None:
    journal = Journal(3, clock=Clock(now=1_800_000_000.0))
    began = time.perf_counter()
    for n in range(5):
        answered = ((b"x-mock-source", b"emulated"), (b"preference-applied", b"example=empty"))
        query = b"phone_number=%2B971501234567&n=" + str(n).encode()
        head = Head.read("GET", "/api/user/leads", query, AUTH)
        journal.note(head, 200, Served.of_mock(Reply(200, answered)), began + n, 0.0021)
    entries = journal.entries()
    assert [entry["query"][-3:] for entry in entries] == ["n=4", "n=3", "n=2"]
    first = entries[0]
    assert first["key"] == fingerprint_of(b"Bearer 1|journal-secret-key")
    assert "journal-secret-key" not in repr(entries)
    assert "971501234567" not in first["query"]
    assert first["query"].startswith("phone_number=+**********67")
    assert (first["status"], first["source"], first["prefer"], first["ms"]) == (
        200, "emulated", "example=empty", 2.1
    )  # fmt: skip
    assert first["time"].startswith("2027-01-15T08:00:04.")  # the 5th, 4 s after the first


def test_journal__filters_and_clear(tmp_path: Path) -> None:
    journal = Journal(10, clock=Clock(now=100.0))
    now = time.perf_counter()
    listing = Head.read("GET", "/api/user/leads", b"", AUTH)
    journal.note(listing, 200, Served(Reply(200, ()), "HIT"), now, 0.001)
    no_key = Head.read("GET", "/api/user/leads", b"", ())
    journal.note(no_key, 401, Served(Reply(401, ()), "BYPASS"), now, 0.001)
    post = Head.read("POST", "/api/user/leads/7", b"", AUTH)
    journal.note(post, 200, Served(Reply(200, ()), "BYPASS", 0.01, forwarded=True), now, 0.01)
    assert [e["status"] for e in journal.entries(cache="hit")] == [200]
    assert len(journal.entries(status=401)) == 1
    assert len(journal.entries(path="/api/user/leads/7")) == 1
    assert len(journal.entries(key=fingerprint_of(b"Bearer 1|journal-secret-key"))) == 2
    assert len(journal.entries(limit=1)) == 1
    assert journal.entries(since=101.0) == []  # noted at about 100 by the journal's clock
    journal.clear()
    assert journal.entries() == []


def test_journal__entries_are_plain_values_the_collector_lets_be() -> None:
    # A tracked entry (one holding a list or a record) is walked by every full
    # collection: with a thousand of them, that cost a hit 5% of its CPU.
    journal = Journal(50)
    served = Served.of_mock(Reply(200, ((b"x-mock-source", b"emulated"),)))
    for n in range(50):
        head = Head.read("GET", "/api/user/leads", b"n=%d" % n, [*AUTH, (b"accept", b"*/*")])
        journal.note(head, 200, served, time.perf_counter(), 0.001)
    gc.collect()
    gc.collect()
    assert not [entry for entry in journal._raw if gc.is_tracked(entry)]
    assert journal.entries(limit=1)[0]["source"] == "emulated"
