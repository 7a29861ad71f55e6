"""Keys, entries and the in-process storage, with a fake clock."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads_proxy.http.canonical import canonical_query
from leads_proxy.proxy.cache import CacheKey, Entry, KeyMaker, State
from leads_proxy.proxy.storage import MemoryStorage
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
        ("status=b&status=a", "status=a"),
        ("phone_number=%2B1555", "phone_number=%2b1555"),
        ("q=a+b", "q=a%20b"),
        ("q=%41", "q=A"),
        ("status=a&&=x", "status=a"),
        ("ids[]=1&status=a&ids[]=2", "status=a&ids[]=1&ids[]=2"),
        ("q=%zz", "q=%25zz"),
        ("status=%20", "status="),  # Laravel's TrimStrings: both are empty
    ],
)
def test_canonical_query__same_array_to_php_same_spelling(one: str, other: str) -> None:
    assert canonical_query(one) == canonical_query(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("status=a", "status=b"),
        ("status=a", ""),
        ("page=1", "page=2"),
        ("status=", ""),  # present but empty is the controller's business
        ("status=%1F", ""),  # not whitespace to PHP's trim
        ("ids[]=1&ids[]=2", "ids[]=2"),  # arrays are kept whole
        ("ids[]=1&ids[]=2", "ids[]=2&ids[]=1"),
        ("q=%FF", "q=%EF%BF%BD"),  # invalid UTF-8 is not the replacement character
        ("a[]=2&a=1", "a=1&a[]=2"),  # PHP: the last one wins, whichever kind it is
    ],
)
def test_canonical_query__other_array_to_php_other_spelling(one: str, other: str) -> None:
    assert canonical_query(one) != canonical_query(other)


def php_parse_str(query: str) -> dict[bytes, object]:
    """A model of PHP's parse_str for flat names and `name[]` / `name[key]` arrays,
    each value then trimmed by PHP's trim (Laravel's TrimStrings)."""
    result: dict[bytes, object] = {}
    for part in query.encode("latin-1").split(b"&"):
        raw_name, _, raw_value = part.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value = unquote_to_bytes(raw_value.replace(b"+", b" ")).strip(b" \t\n\r\x00\x0b")
        # php_register_variable_ex: the name ends at a NUL, loses its leading spaces,
        # and its base's spaces and dots become underscores; an unclosed [ too.
        name = name.split(b"\x00")[0]
        while name.startswith(b" "):
            name = name[1:]
        cut = name.find(b"[")
        head = name if cut < 0 else name[:cut]
        head = bytes(b"_"[0] if byte in b" ." else byte for byte in head)
        if cut >= 0 and b"]" not in name[cut:]:
            name = head + b"_" + name[cut + 1 :]
        elif cut >= 0:
            name = head + name[cut:]
        else:
            name = head
        if not name:
            continue
        base, bracket, rest = name.partition(b"[")
        if not bracket:
            result[base] = value
            continue
        current = result.get(base)
        items: list[tuple[bytes | None, bytes]] = current if isinstance(current, list) else []
        index = rest.split(b"]", 1)[0]
        if index:
            items = [item for item in items if item[0] != index]
        items.append((index or None, value))
        result[base] = items
    return dict(sorted(result.items()))


QUERY_PARTS = st.sampled_from(
    [
        "status",
        "ids[]",
        "a[x]",
        "a",
        "page",
        "",
        "%zz",
        "%41",
        "+",
        "%FF",
        "%1F",
        "%20",
        "1",
        "%00",
        "%0B",
        "%0C",
        "per.page",
        "per_page",
        "+per_page",
        "a.b[x]",
        "a[b",
        "n%00x",
    ]
)


@settings(max_examples=400)
@given(
    pairs=st.lists(
        st.tuples(QUERY_PARTS, st.one_of(st.none(), QUERY_PARTS)), min_size=0, max_size=6
    )
)
def test_canonical_query__php_reads_the_canonical_form_as_the_original(
    pairs: list[tuple[str, str | None]],
) -> None:
    query = "&".join(name if value is None else f"{name}={value}" for name, value in pairs)
    canonical = canonical_query(query)
    assert php_parse_str(canonical) == php_parse_str(query)
    assert canonical_query(canonical) == canonical  # one spelling: canonical is a fixed point


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


def test_storage__keys_count_in_the_bytes_bound() -> None:
    storage = MemoryStorage(max_entries=100, max_bytes=100_000, clock=Clock(0.0))
    short, long = CacheKey.of("f", ""), CacheKey.of("f", "q=" + "x" * 4000)
    storage.put(short, _sized(10))
    before = storage.bytes
    storage.put(long, _sized(10))
    assert storage.bytes - before >= 4000 + 10


def test_canonical_query__names_as_php_registers_them() -> None:
    # A hostile probe: these two orders share one key, though PHP reads 7 and 5.
    assert canonical_query("per_page=5&per.page=7") == "per_page=7"
    assert canonical_query("per.page=7&per_page=5") == "per_page=5"
    assert canonical_query("+per_page=7&per_page=5") == "per_page=5"
    assert canonical_query("a[b=1") == "a_b=1"
    assert canonical_query("n%00x=1") == "n=1"
