"""The proxy's cache rules, as plain values: no awaits, no counters, no logs.

Two questions, each answered by a function of what is known now:

`decide`: a leads request came in. Given the entry cached for its key (or
none), the time, the client's Cache-Control directives and how long the key
still cools down after a 429, what to do:

    Hit            fresh: answer it, ask nobody
    Stale          answer the last copy; `refresh` says whether to ask for a
                   new one in the background (stale-while-revalidate), and
                   `why` says why a stale copy is served
    CachedOnly     only-if-cached and nothing fresh: 504, ask nobody
    TooMany        the key cools down and nothing can stand in: 429
    Fetch          ask the upstream (or wait for the request on its way)

`settle`: the upstream was asked. Given the outcome and the last good copy,
what to answer:

    Fresh          the new answer (stored or not)
    PassOn         a 4xx that is not cached, passed on as it is
    Stale          the last copy stands in for a failure or a 429
    TooMany        429 with the time left to wait
    Fallback       nothing to stand in: the fixtures, if configured, else `error`
    Failed         502/504, nothing to stand in

The proxy carries the answer out; `app/verdicts.py` turns it into bytes.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from typing import Literal

from .cache import Entry, State
from .exchange import Answer, UpstreamError

DEFAULT_COOLDOWN = 10.0  # seconds, for a 429 that says no Retry-After (or one unreadable)
MAX_COOLDOWN = 3600.0  # seconds: the most any Retry-After holds a key, by default

StaleWhy = Literal["stale-while-revalidate", "rate-limited", "stale-if-error"]


@dataclass(frozen=True, slots=True)
class Directives:
    """The Cache-Control directives of a request that this cache honours."""

    no_cache: bool = False  # go to the upstream even when a fresh copy exists
    only_if_cached: bool = False  # never go to the upstream

    @classmethod
    def parse(cls, header: bytes | None) -> Directives:
        if header is None:
            return NO_DIRECTIVES
        names = {part.strip().split("=")[0].lower() for part in header.decode("latin-1").split(",")}
        return cls(no_cache="no-cache" in names, only_if_cached="only-if-cached" in names)


NO_DIRECTIVES = Directives()


# --- what one trip to the upstream came to -----------------------------------


@dataclass(frozen=True, slots=True)
class Filled:
    """A 200, made an entry."""

    entry: Entry
    stored: bool
    by_peer: bool = False  # another process asked the upstream; this one read its entry


@dataclass(frozen=True, slots=True)
class Passed:
    """An answer that is not cached but passed on as it is (401, 403, 404, 422...)."""

    answer: Answer


@dataclass(frozen=True, slots=True)
class Limited:
    """A 429: the key waits until `until` (on the proxy's clock)."""

    answer: Answer | None  # None when another process was told to wait
    until: float


@dataclass(frozen=True, slots=True)
class Failed:
    error: UpstreamError


Outcome = Filled | Passed | Limited | Failed


# --- decisions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry


@dataclass(frozen=True, slots=True)
class Stale:
    entry: Entry
    why: StaleWhy
    refresh: bool = False  # start a background refresh
    upstream_status: int | None = None  # what the failed upstream answered, if anything


@dataclass(frozen=True, slots=True)
class CachedOnly:
    """only-if-cached, and nothing fresh is cached."""


@dataclass(frozen=True, slots=True)
class TooMany:
    left: float  # seconds the key still waits
    answer: Answer | None = None  # the upstream's own 429, when this request saw it


@dataclass(frozen=True, slots=True)
class Fetch:
    """Ask the upstream; `no_cache` when the client asked to skip the cache."""

    no_cache: bool = False


@dataclass(frozen=True, slots=True)
class Fresh:
    filled: Filled
    no_cache: bool = False

    @property
    def entry(self) -> Entry:
        return self.filled.entry


@dataclass(frozen=True, slots=True)
class PassOn:
    answer: Answer


@dataclass(frozen=True, slots=True)
class Fallback:
    """Nothing can stand in: serve the fixtures if they can answer, else `error`."""

    error: UpstreamError


@dataclass(frozen=True, slots=True)
class Unserved:
    error: UpstreamError


Decision = Hit | Stale | CachedOnly | TooMany | Fetch
Settled = Fresh | PassOn | Stale | TooMany | Fallback | Unserved


def decide(
    entry: Entry | None, now: float, directives: Directives, cooldown_left: float
) -> Decision:
    """What to do with a leads request, before anyone is asked."""
    state = entry.state(now) if entry is not None else None
    if entry is not None and not directives.no_cache:
        if state is State.FRESH:
            return Hit(entry)
        if state is State.STALE:
            return Stale(entry, "stale-while-revalidate", refresh=cooldown_left <= 0)
    if directives.only_if_cached:
        return CachedOnly()
    if cooldown_left > 0:
        if entry is not None and state is not None:
            return Stale(entry, "rate-limited")
        return TooMany(cooldown_left)
    return Fetch(no_cache=directives.no_cache)


def settle(
    outcome: Outcome,
    last_good: Entry | None,
    now: float,
    *,
    no_cache: bool = False,
    fallback: bool = False,
) -> Settled:
    """What to answer once the upstream was asked (by this request, or another)."""
    if isinstance(outcome, Filled):
        return Fresh(outcome, no_cache=no_cache)
    if isinstance(outcome, Passed):
        return PassOn(outcome.answer)
    if last_good is not None and last_good.state(now) is not None:
        if isinstance(outcome, Limited):
            return Stale(last_good, "rate-limited")
        return Stale(last_good, "stale-if-error", upstream_status=outcome.error.upstream_status)
    if isinstance(outcome, Limited):
        return TooMany(outcome.until - now, outcome.answer)
    if fallback:
        return Fallback(outcome.error)
    return Unserved(outcome.error)


def cooldown_until(
    retry_after: str | None, *, now: float, wall: float, cap: float = MAX_COOLDOWN
) -> float:
    """When a key that got a 429 may ask again, on the clock that `now` is read from.

    A missing or unreadable Retry-After waits `DEFAULT_COOLDOWN`; none waits
    longer than `cap` (--max-cooldown), whatever the upstream says.
    """
    wait = retry_after_seconds(retry_after, wall=wall)
    return now + min(cap, DEFAULT_COOLDOWN if wait is None else wait)


def retry_after_seconds(value: str | None, *, wall: float) -> float | None:
    """Seconds from a Retry-After header (ASCII delta seconds or an HTTP date); None if neither."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is true too
        return float(min(int(value), 10**9))
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - wall)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
