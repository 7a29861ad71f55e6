"""The bounded memo: short keys remembered, long ones worked out each time, a bound on
entries; what fingerprints and canonical queries are remembered with."""

from __future__ import annotations

from leads_proxy.http.canonical import canonical_query
from leads_proxy.http.keys import fingerprint_of
from leads_proxy.http.memo import Memo


def test_memo__keeps_short_keys_only_and_a_bounded_number() -> None:
    calls: list[bytes | None] = []

    def length(key: bytes | None) -> int:
        calls.append(key)
        return len(key or b"")

    remembered = Memo(length, entries=3, key_bytes=4)
    for key in (b"ab", b"ab", None, None, b"abcdef", b"abcdef"):
        remembered(key)
    assert calls == [b"ab", None, b"abcdef", b"abcdef"]  # the long key each time
    for key in (b"1", b"2", b"3"):
        remembered(key)
    assert len(remembered._kept) <= 3


def test_memo__what_the_hot_paths_remember_is_bounded_in_bytes() -> None:
    fingerprint_of.clear()
    long = b"Bearer " + b"k" * 60_000
    assert fingerprint_of(long) == fingerprint_of(long)
    assert long not in fingerprint_of._kept
    canonical_query.clear()
    query = "a=" + "b" * 5000
    assert canonical_query(query) == canonical_query(query)
    assert query not in canonical_query._kept
