"""What is kept in Redis: entries cross processes as wall-clock times; junk is no entry."""

from __future__ import annotations

import pytest

from app.cache import KeyMaker
from app.redis_format import (
    cooldown_key,
    decode_entry,
    encode_entry,
    entries_pattern,
    entry_key,
    lock_key,
)
from tests.fakes import entry


def test_entry__round_trips_between_processes_with_different_clocks() -> None:
    written = entry(now=1000.0)
    # Process A: monotonic 1000 at wall 1.7e9. Process B: monotonic 50, two seconds later.
    raw = encode_entry(written, shift=1_700_000_000.0 - 1000.0)
    read = decode_entry(raw, shift=1_700_000_002.0 - 52.0, hold_until=53.0)
    assert read is not None
    assert read.body == written.body
    assert read.headers == written.headers
    assert read.fresh_until == pytest.approx(50.0 + 30.0)
    assert read.error_until == pytest.approx(50.0 + 630.0)
    assert read.hot_until == 53.0


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json\n[]", b'{"format": 2}\n[]', b'{"format": 1}\n[]', b"[1, 2]\n[]"],
    ids=["empty", "not-json", "other-format", "missing-fields", "not-an-object"],
)
def test_entry__anything_else_in_redis_is_no_entry(raw: bytes) -> None:
    assert decode_entry(raw, shift=0.0, hold_until=0.0) is None


def test_keys__name_the_fingerprint_and_query_never_the_api_key() -> None:
    key = KeyMaker(b"s" * 32).key(b"1|secret-api-key", "status=completed")
    names = [entry_key(key), lock_key(key), cooldown_key(key.fingerprint)]
    assert names == [
        f"leads-proxy:leads:{key.fingerprint}:status=completed",
        f"leads-proxy:lock:{key.fingerprint}:status=completed",
        f"leads-proxy:cooldown:{key.fingerprint}",
    ]
    assert not any("secret-api-key" in name for name in names)
    assert entries_pattern(None) == "leads-proxy:leads:*"
    assert entries_pattern(key.fingerprint) == f"leads-proxy:leads:{key.fingerprint}:*"
