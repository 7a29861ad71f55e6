"""What is kept in Redis: entries cross processes as wall-clock times; junk is no entry."""

from __future__ import annotations

import gzip
import json

import pytest
from redis.crc import key_slot

from leads_proxy.http.encoding import gzip_of
from leads_proxy.proxy.cache import Entry, KeyMaker
from leads_proxy.proxy.redis.format import (
    cooldown_key,
    decode_entry,
    encode_entry,
    entries_pattern,
    entry_key,
    lock_key,
    purged_key,
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
    [b"", b"not json\n[]", b'{"format": 1}\n[]', b'{"format": 2}\n[]', b"[1, 2]\n[]"],
    ids=["empty", "not-json", "older-format", "missing-fields", "not-an-object"],
)
def test_entry__anything_else_in_redis_is_no_entry(raw: bytes) -> None:
    assert decode_entry(raw, shift=0.0, hold_until=0.0) is None


def test_keys__name_the_fingerprint_and_query_never_the_api_key() -> None:
    key = KeyMaker(b"s" * 32).key(b"1|secret-api-key", "status=completed")
    tag = "{" + key.fingerprint + "}"
    names = [entry_key(key), lock_key(key), cooldown_key(key.fingerprint),
             purged_key(key.fingerprint)]  # fmt: skip
    assert names == [
        f"leads-proxy:leads:{tag}:status=completed",
        f"leads-proxy:lock:{tag}:status=completed",
        f"leads-proxy:cooldown:{tag}",
        f"leads-proxy:purged:{tag}",
    ]
    assert not any("secret-api-key" in name for name in names)
    assert entries_pattern(None) == "leads-proxy:leads:*"
    assert entries_pattern(key.fingerprint) == f"leads-proxy:leads:{tag}:*"


def test_keys__every_key_of_one_api_key_is_in_one_cluster_slot() -> None:
    keys = KeyMaker(b"s" * 32)
    key = keys.key(b"1|secret-api-key", "status=completed")
    other = keys.key(b"1|secret-api-key", "page=2&per_page=5")
    names = [entry_key(key), lock_key(key), cooldown_key(key.fingerprint),
             purged_key(key.fingerprint), entry_key(other), lock_key(other)]  # fmt: skip
    assert len({key_slot(name.encode()) for name in names}) == 1
    spread = {key_slot(entry_key(keys.key(f"{n}|k".encode(), "")).encode()) for n in range(50)}
    assert len(spread) > 40  # different API keys land all over the slots


GZIPPED_OTHER = gzip.compress(b"[1]")


def test_entry__a_large_body_travels_with_its_gzip_form() -> None:
    body = json.dumps([{"n": n} for n in range(200)]).encode()
    written = Entry.build(
        body,
        etag=b'"big"',
        content_type=b"application/json",
        stored_at=1.0,
        fresh_until=2.0,
        stale_until=3.0,
        error_until=4.0,
        gzipped=gzip_of(body),
    )
    read = decode_entry(encode_entry(written, shift=0.0), shift=0.0, hold_until=2.0)
    assert read is not None
    assert read.body == body
    assert read.gzipped is not None
    assert gzip.decompress(read.gzipped) == body
    assert read.gzip_headers == written.gzip_headers
    assert (b"etag", b'"big-gzip"') in read.gzip_headers


def _raw(meta: dict[str, object], body: bytes = b"[]", newline: bytes = b"\n") -> bytes:
    base: dict[str, object] = {
        "format": 2,
        "stored_at": 100.0,
        "fresh_until": 130.0,
        "stale_until": 160.0,
        "error_until": 700.0,
        "etag": '"abc"',
        "content_type": "application/json",
        "gzip": 0,
    }
    text = json.dumps({**base, **meta}, allow_nan=True).encode()
    return text + newline + body


@pytest.mark.parametrize(
    "raw",
    [
        _raw({"fresh_until": float("inf")}),
        _raw({"stored_at": float("nan")}),
        _raw({"fresh_until": 10.0}),  # fresh ends before it was stored
        _raw({"content_type": "application/json\r\nSet-Cookie: a=b"}),
        _raw({"etag": "abc\r\n"}),
        _raw({"etag": 7}),
        _raw({"stored_at": "100"}),
        _raw({}, newline=b"", body=b""),  # no body at all
        _raw({}, body=b"<html>"),  # a body that is not JSON
        _raw({}, body=b"[" * 100_000),
        _raw({"gzip": 99}),  # longer than what follows
        _raw({"gzip": -1}),
        _raw({"gzip": 2}, body=b"[]" + b"[]"),  # not gzip
        _raw({"gzip": len(GZIPPED_OTHER)}, body=b"[]" + GZIPPED_OTHER),  # another body's gzip
    ],
    ids=[
        "infinite",
        "nan",
        "out-of-order",
        "crlf-content-type",
        "crlf-etag",
        "etag-not-text",
        "time-not-a-number",
        "no-body",
        "body-not-json",
        "body-too-deep",
        "gzip-too-long",
        "gzip-negative",
        "gzip-not-gzip",
        "gzip-of-another-body",
    ],
)
def test_decode_entry__junk_is_no_entry(raw: bytes) -> None:
    assert decode_entry(raw, shift=0.0, hold_until=0.0) is None


def test_decode_entry__a_good_one_reads() -> None:
    read = decode_entry(_raw({}), shift=0.0, hold_until=101.0)
    assert read is not None
    assert read.etag == b'"abc"'
    assert read.fresh_until == 130.0


def test_entry__its_cache_control_travels_and_a_hostile_one_is_no_entry() -> None:
    written = Entry.build(
        b"[]", etag=b'"e"', content_type=b"application/json", stored_at=1.0,
        fresh_until=2.0, stale_until=3.0, error_until=4.0, cache_control=b"private, max-age=0",
    )  # fmt: skip
    raw = encode_entry(written, shift=0.0)
    read = decode_entry(raw, shift=0.0, hold_until=2.0)
    assert read is not None
    assert read.cache_control == b"private, max-age=0"
    line, _, body = raw.partition(b"\n")
    meta = json.loads(line)
    del meta["cache_control"]  # written before answers carried one
    older = decode_entry(json.dumps(meta).encode() + b"\n" + body, shift=0.0, hold_until=2.0)
    assert older is not None
    assert older.cache_control == b"no-cache, private"
    meta["cache_control"] = "private\r\nset-cookie: a=b"
    assert decode_entry(json.dumps(meta).encode() + b"\n" + body, shift=0.0, hold_until=2.0) is None
