"""Keys, entries and the in-process storage, with a fake clock."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.cache import CacheKey, Entry, KeyMaker, MemoryStorage, State, normalize_query
from tests.fakes import Clock, entry


def test_entry__fresh_then_stale_then_expired_then_gone() -> None:
    stored = entry(1000.0, ttl=10)  # stale-while-revalidate 30, stale-if-error 600
    for offset, state in [(0, State.FRESH), (9.9, State.FRESH), (10, State.STALE)]:
        assert stored.state(1000 + offset) is state
    assert stored.state(1039.9) is State.STALE
    assert stored.state(1040) is State.EXPIRED
    assert stored.state(1609.9) is State.EXPIRED
    assert stored.state(1610) is None


def test_entry__held_never_past_its_freshness() -> None:
    fresh = entry(now=0.0, ttl=10.0)
    assert fresh.held(5.0).hot_until == 5.0
    assert fresh.held(99.0).hot_until == 10.0


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("status=a&campaign_id=2", "campaign_id=2&status=a"),
        ("status=a&page=", "status=a"),
        ("status=b&status=a", "status=a"),
        ("phone_number=%2B1555", "phone_number=+1555".replace("+", "%2B")),
        ("", "page=&per_page="),
    ],
)
def test_normalize_query__same_meaning_same_key(one: str, other: str) -> None:
    assert normalize_query(one) == normalize_query(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("status=a", "status=b"), ("status=a", ""), ("page=1", "page=2")],
)
def test_normalize_query__other_meaning_other_key(one: str, other: str) -> None:
    assert normalize_query(one) != normalize_query(other)


@pytest.mark.parametrize("secret", [b"k" * 32, b"short", b"x" * 100], ids=["32", "5", "100"])
def test_keys__fingerprint_is_hmac_sha256(secret: bytes) -> None:
    for token in (b"1|abc", b"", b"2|" + b"z" * 300):
        expected = hmac.new(secret, token, hashlib.sha256).hexdigest()[:32]
        assert KeyMaker(secret).fingerprint(token) == expected


def test_keys__differ_per_token_and_never_hold_it() -> None:
    keys = KeyMaker(b"s" * 32)
    one, two = keys.key(b"1|aaaa", "x=1"), keys.key(b"1|aaab", "x=1")
    assert one != two
    assert "aaaa" not in str(one)
    assert len(one.short) == 8
    assert KeyMaker().fingerprint(b"1|aaaa") != KeyMaker().fingerprint(b"1|aaaa")  # own secret


def _sized(size: int, now: float = 0.0) -> Entry:
    return Entry(b"x" * size, (), b'"e"', now, now + 10, now + 20, now + 30)


def test_storage__bounded_by_entries_and_bytes_oldest_out_first() -> None:
    clock = Clock(0.0)
    storage = MemoryStorage(max_entries=3, max_bytes=4 * 1024, clock=clock)
    keys = [CacheKey.of("f", str(n)) for n in range(5)]
    for key in keys:
        assert storage.put(key, _sized(100))
    assert storage.entries == 3
    assert storage.get(keys[0]) is None
    assert storage.get(keys[4]) is not None
    assert not storage.put(CacheKey.of("f", "huge"), _sized(10_000))
    storage.put(CacheKey.of("f", "big"), _sized(3000))
    assert storage.bytes <= 4 * 1024


def test_storage__entries_leave_when_no_window_is_left() -> None:
    clock = Clock(0.0)
    storage = MemoryStorage(max_entries=3, max_bytes=100_000, clock=clock)
    storage.put(CacheKey.of("f", ""), _sized(10))
    clock.now = 29.9
    assert storage.get(CacheKey.of("f", "")) is not None
    clock.now = 30.0
    assert storage.get(CacheKey.of("f", "")) is None
    assert storage.entries == 0


def test_storage__purge_by_fingerprint_or_all() -> None:
    storage = MemoryStorage(max_entries=10, max_bytes=100_000, clock=Clock(0.0))
    for fingerprint, query in [("a", ""), ("a", "x=1"), ("b", "")]:
        storage.put(CacheKey.of(fingerprint, query), _sized(10))
    assert storage.purge("a") == 2
    assert storage.get(CacheKey.of("b", "")) is not None
    assert storage.purge() == 1
    assert storage.entries == 0
