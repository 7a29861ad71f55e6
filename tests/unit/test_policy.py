"""The cache rules as tables: states and times in, decisions out. No event loop."""

from __future__ import annotations

import pytest

from leads_proxy.proxy.cache import Entry
from leads_proxy.proxy.exchange import Answer, UpstreamBadStatus, UpstreamTimeout
from leads_proxy.proxy.policy import (
    CachedOnly,
    Directives,
    Failed,
    Fallback,
    Fetch,
    Filled,
    Fresh,
    Hit,
    Limited,
    Passed,
    PassOn,
    Stale,
    TooMany,
    Unserved,
    cooldown_until,
    decide,
    retry_after_seconds,
    settle,
)
from tests.fakes import entry

# An entry stored at 0: fresh until 30, stale-while-revalidate until 60,
# stale-if-error until 630.
STORED = entry(0.0)
NONE = Directives()
NO_CACHE = Directives(no_cache=True)
ONLY_CACHED = Directives(only_if_cached=True)
BOTH = Directives(no_cache=True, only_if_cached=True)


def kind(decision: object) -> str:
    """A decision as a short readable word, with what matters of it."""
    if isinstance(decision, Stale):
        return f"stale:{decision.why}:{'refresh' if decision.refresh else 'no-refresh'}"
    if isinstance(decision, TooMany):
        return f"429:{decision.left:g}"
    if isinstance(decision, Fetch):
        return "fetch:no-cache" if decision.no_cache else "fetch"
    return type(decision).__name__.lower()


@pytest.mark.parametrize(
    ("cached", "now", "directives", "cooling", "expected"),
    [
        # Nothing cached.
        (None, 0, NONE, 0, "fetch"),
        (None, 0, NO_CACHE, 0, "fetch:no-cache"),
        (None, 0, ONLY_CACHED, 0, "cachedonly"),
        (None, 0, NONE, 5, "429:5"),
        (None, 0, ONLY_CACHED, 5, "cachedonly"),
        # Fresh: served, whatever the cooldown says.
        (STORED, 0, NONE, 0, "hit"),
        (STORED, 29.9, NONE, 0, "hit"),
        (STORED, 10, NONE, 5, "hit"),
        (STORED, 10, ONLY_CACHED, 0, "hit"),
        (STORED, 10, NO_CACHE, 0, "fetch:no-cache"),
        (STORED, 10, BOTH, 0, "cachedonly"),
        (STORED, 10, NO_CACHE, 5, "stale:rate-limited:no-refresh"),
        # Stale-while-revalidate: served, refreshed unless the key cools down.
        (STORED, 30, NONE, 0, "stale:stale-while-revalidate:refresh"),
        (STORED, 59.9, NONE, 0, "stale:stale-while-revalidate:refresh"),
        (STORED, 45, NONE, 5, "stale:stale-while-revalidate:no-refresh"),
        (STORED, 45, ONLY_CACHED, 0, "stale:stale-while-revalidate:refresh"),
        (STORED, 45, NO_CACHE, 0, "fetch:no-cache"),
        # Only stale-if-error is left: asked for, unless the key cools down.
        (STORED, 60, NONE, 0, "fetch"),
        (STORED, 60, NONE, 3, "stale:rate-limited:no-refresh"),
        (STORED, 60, ONLY_CACHED, 0, "cachedonly"),
        (STORED, 629.9, NONE, 3, "stale:rate-limited:no-refresh"),
        # Past every window: as good as nothing.
        (STORED, 630, NONE, 0, "fetch"),
        (STORED, 630, NONE, 3, "429:3"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_decide(
    cached: Entry | None, now: float, directives: Directives, cooling: float, expected: str
) -> None:
    assert kind(decide(cached, now, directives, cooling)) == expected


def test_decide__a_hit_and_a_stale_carry_the_entry() -> None:
    assert decide(STORED, 0, NONE, 0) == Hit(STORED)
    stale = decide(STORED, 40, NONE, 0)
    assert isinstance(stale, Stale)
    assert stale.entry is STORED


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Directives()),
        (b"no-cache", NO_CACHE),
        (b"No-Cache, max-age=0", NO_CACHE),
        (b"only-if-cached", ONLY_CACHED),
        (b"max-age=0 ,only-if-cached, no-cache", BOTH),
        (b"no-store", Directives()),
        (b"", Directives()),
    ],
)
def test_directives__parsed_from_cache_control(header: bytes | None, expected: Directives) -> None:
    assert Directives.parse(header) == expected


ANSWER_401 = Answer(401, [], b'{"message":"Unauthenticated."}', 0.01)
ANSWER_429 = Answer(429, [("Retry-After", "9")], b"{}", 0.01)
TIMEOUT = UpstreamTimeout("the upstream did not answer within 10 s")
BAD_502 = UpstreamBadStatus("the upstream answered 502", upstream_status=502)
NEW = entry(100.0, version=2)


def settled_kind(settled: object) -> str:
    if isinstance(settled, Stale):
        return f"stale:{settled.why}:{settled.upstream_status}"
    if isinstance(settled, TooMany):
        return f"429:{settled.left:g}:{'own' if settled.answer else 'told'}"
    if isinstance(settled, Fresh):
        return "fresh:no-cache" if settled.no_cache else "fresh"
    return type(settled).__name__.lower()


@pytest.mark.parametrize(
    ("outcome", "last_good", "now", "fallback", "expected"),
    [
        (Filled(NEW, stored=True), None, 100, False, "fresh"),
        (Filled(NEW, stored=True), STORED, 100, False, "fresh"),
        (Passed(ANSWER_401), STORED, 100, False, "passon"),
        (Passed(ANSWER_401), None, 100, True, "passon"),
        # A failure: the last good copy while stale-if-error lasts.
        (Failed(TIMEOUT), STORED, 100, False, "stale:stale-if-error:None"),
        (Failed(BAD_502), STORED, 629, True, "stale:stale-if-error:502"),
        (Failed(BAD_502), STORED, 630, False, "unserved"),
        (Failed(BAD_502), STORED, 630, True, "fallback"),
        (Failed(TIMEOUT), None, 100, False, "unserved"),
        (Failed(TIMEOUT), None, 100, True, "fallback"),
        # A 429: the last good copy, else the wait that is left.
        (Limited(ANSWER_429, until=109), STORED, 100, False, "stale:rate-limited:None"),
        (Limited(ANSWER_429, until=109), None, 100, True, "429:9:own"),
        (Limited(None, until=104.5), None, 100, False, "429:4.5:told"),
    ],
)
def test_settle(
    outcome: Filled | Passed | Limited | Failed,
    last_good: Entry | None,
    now: float,
    fallback: bool,
    expected: str,
) -> None:
    assert settled_kind(settle(outcome, last_good, now, fallback=fallback)) == expected


def test_settle__no_cache_is_told_on_the_fresh_answer() -> None:
    settled = settle(Filled(NEW, stored=False), None, 100, no_cache=True)
    assert settled == Fresh(Filled(NEW, stored=False), no_cache=True)


def test_settle__a_failure_keeps_its_error_for_the_answer() -> None:
    assert settle(Failed(TIMEOUT), None, 0) == Unserved(TIMEOUT)
    assert settle(Failed(TIMEOUT), None, 0, fallback=True) == Fallback(TIMEOUT)
    assert settle(Passed(ANSWER_401), None, 0) == PassOn(ANSWER_401)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Tue, 14 Nov 2023 22:13:50 GMT", 30.0),  # wall clock is 1_700_000_000 = 22:13:20
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("", None),
        (None, None),
        ("\u00b2", None),  # a digit to str.isdigit, not to HTTP
        ("-5", None),
        ("1.5", None),
        ("99999999999999999999", 1e9),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799.0 - 1_700_000_000.0),
        ("Mon, 99 Foo 2023 99:99:99 GMT", None),
    ],
)
def test_retry_after_seconds(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, wall=1_700_000_000.0) == seconds


@pytest.mark.parametrize(
    ("value", "until"),
    [
        ("30", 130.0),
        (None, 110.0),
        ("soon", 110.0),
        ("\u00b2", 110.0),
        ("0", 100.0),
        ("99999999999999999999", 100.0 + 3600),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 100.0 + 3600),
    ],
)
def test_cooldown_until__retry_after_or_ten_seconds_never_past_the_cap(
    value: str | None, until: float
) -> None:
    assert cooldown_until(value, now=100.0, wall=1_700_000_000.0) == until
    assert cooldown_until(value, now=100.0, wall=1_700_000_000.0, cap=5.0) == min(until, 105.0)


def test_decide__cachedonly_is_a_value() -> None:
    assert decide(None, 0, ONLY_CACHED, 0) == CachedOnly()
