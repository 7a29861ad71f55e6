"""Mock mode's rate limit, as Laravel's `throttle:N,1` middleware counts.

Each API key has a window of a minute that opens with its first request;
within it, N requests pass and each answer says how many are left
(`X-RateLimit-Limit`, `X-RateLimit-Remaining`); past N, a 429
`{"message": "Too Many Attempts."}` with `Retry-After` and `X-RateLimit-Reset`
(the window's end, in Unix seconds) until the window ends. Keys are held as
hashes, in a bounded map.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache

from ..http.reply import Headers, Reply

WINDOW = 60.0
MAX_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Passed:
    headers: Headers  # to add to the answer


class Throttle:
    """Counts requests per key in fixed windows; `take` says pass (with headers) or 429."""

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._wall = wall
        self._windows: LRUCache[bytes, list[float]] = LRUCache(MAX_KEYS)  # [ends_at, count]
        self._limit_header = (b"x-ratelimit-limit", str(limit).encode())

    def take(self, token: bytes) -> Passed | Reply:
        """Count one request of `token`'s key: its headers, or the 429 to send instead."""
        key = hashlib.blake2b(token, digest_size=16).digest()
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window[0]:
            window = self._windows[key] = [now + self.window, 0]
        if window[1] >= self.limit:
            return self._refused(window[0] - now)
        window[1] += 1
        left = str(self.limit - int(window[1])).encode()
        return Passed((self._limit_header, (b"x-ratelimit-remaining", left)))

    def _refused(self, wait: float) -> Reply:
        seconds = max(1, math.ceil(wait))
        return Reply.message(
            429,
            {"message": "Too Many Attempts."},
            self._limit_header,
            (b"x-ratelimit-remaining", b"0"),
            (b"retry-after", str(seconds).encode()),
            (b"x-ratelimit-reset", str(math.ceil(self._wall() + wait)).encode()),
        )
