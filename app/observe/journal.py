"""The request journal: the last N API requests, for people and tests to look at.

A request costs one tuple appended to a bounded deque (its raw values and its
reply); what is shown is worked out only when the journal is read: the query
with phone numbers masked (all but their last 2 digits), the key as a
fingerprint (`http.keys`, never the key), the cache
result or the mock source, the `Prefer` applied, upstream and total time.

Under `--workers N`, each worker writes its entries (as shown, never a key)
to a file of its own in the server's shared folder at most twice a second, and
a reader merges its own with the others'; clearing writes a mark every
worker's entries are read against.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ..http.files import write_atomically
from ..http.keys import fingerprint_of
from ..http.request import Head
from ..http.service import Served

DEFAULT_SIZE = 1000
WRITE_EVERY = 0.5  # seconds, under --workers
FILE_PREFIX = "journal-"
CLEARED = "journal.cleared"
_PHONE = re.compile(r"(\+?)(\d[\d ().-]{4,}\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MIN_DIGITS = 7  # the shortest phone numbers (E.164 has 7 to 15)
Headers = Sequence[tuple[bytes, bytes]]
# (started, took, method, path, query, Authorization, status, X-Cache label, reply
# headers, upstream seconds): plain values only, never the request's dicts and
# lists, so that the collector soon stops looking at them (kept alive for a
# thousand requests, the scopes themselves cost 8% of a hit).
# started, took, method, path, query, Authorization, status, cache, source, prefer, upstream:
# plain values only, so that the collector lets the entries be (a tuple that holds
# a list or a record stays tracked, and each full collection walks all of them).
Raw = tuple[
    float, float, str, str, bytes, bytes | None, int, str | None, str | None, str | None,
    float | None,
]  # fmt: skip


def mask_phones(text: str) -> str:
    """Every phone number (7 or more digits, with + ( ) - . or spaces between; not a
    date) with all but its last 2 digits masked."""

    def masked(match: re.Match[str]) -> str:
        digits = match.group(2)
        if _DATE.fullmatch(digits) or sum(char.isdigit() for char in digits) < MIN_DIGITS:
            return match.group(0)
        keep = 2
        out, seen = [], sum(char.isdigit() for char in digits)
        for char in digits:
            if char.isdigit():
                seen -= 1
                out.append(char if seen < keep else "*")
            else:
                out.append(char)
        return match.group(1) + "".join(out)

    return _PHONE.sub(masked, text)


def _masked_query(query: bytes) -> str:
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return urlencode([(name, mask_phones(value)) for name, value in pairs], safe="*+ ")


class Journal:
    """The last `size` requests of this process (and, with a folder, of its siblings)."""

    def __init__(
        self,
        size: int = DEFAULT_SIZE,
        *,
        directory: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size = size
        self.directory = directory
        self._clock = clock
        self._raw: deque[Raw] = deque(maxlen=size)
        # perf_counter() readings become wall-clock times when read: one clock read less.
        self._wall_offset = clock() - time.perf_counter()
        self._pid = os.getpid()
        self._written: Raw | None = None  # the newest entry the worker's file holds

    def note(self, head: Head, status: int, served: Served, started: float, took: float) -> None:
        """One answered request: its head, the status sent and the service's record;
        `started` is a perf_counter() reading, `took` seconds. Plain values only are kept."""
        self._raw.append(
            (started, took, head.method, head.path, head.query, head.authorization, status,
             served.cache, served.source, served.prefer, served.upstream)
        )  # fmt: skip

    def entries(
        self,
        *,
        path: str | None = None,
        status: int | None = None,
        cache: str | None = None,
        key: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The entries, newest first, that pass every filter given."""
        found = [self._shown(raw) for raw in self._raw]
        if self.directory is not None:
            found += _siblings(self.directory)
            cleared = _cleared(self.directory)
            found = [entry for entry in found if entry["at"] > cleared]
        found.sort(key=lambda entry: entry["at"], reverse=True)
        kept = [
            entry
            for entry in found
            if (path is None or entry["path"] == path)
            and (status is None or entry["status"] == status)
            and (cache is None or cache.lower() in {entry["cache"], entry["source"]})
            and (key is None or entry["key"] == key)
            and (since is None or entry["at"] >= since)
        ]
        return kept[:limit] if limit is not None else kept[: self.size]

    def clear(self) -> None:
        self._raw.clear()
        if self.directory is not None:
            write_atomically(self.directory / CLEARED, repr(self._clock()))

    async def run(self) -> None:
        """Under --workers: write this worker's entries for the others, when they change."""
        if self.directory is None:
            return
        path = self.directory / f"{FILE_PREFIX}{os.getpid()}.json"
        try:
            while True:
                await asyncio.sleep(WRITE_EVERY)
                newest = self._raw[-1] if self._raw else None
                if newest is not self._written:
                    self._written = newest
                    shown = [self._shown(raw) for raw in self._raw]
                    await asyncio.to_thread(write_atomically, path, json.dumps(shown))
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def _shown(self, raw: Raw) -> dict[str, Any]:
        (started, took, method, path, query, authorization, status,
         cache, source, prefer, upstream) = raw  # fmt: skip
        at = started + self._wall_offset
        return {
            "at": at,
            "time": _iso(at),
            "worker": self._pid,
            "method": method,
            "path": path,
            "query": _masked_query(query) if query else "",
            "key": fingerprint_of(authorization),
            "status": status,
            "cache": cache.lower() if cache else None,
            "source": source,
            "prefer": prefer,
            "upstream_ms": None if upstream is None else round(upstream * 1000, 1),
            "ms": round(took * 1000, 1),
        }


def _siblings(directory: Path) -> list[dict[str, Any]]:
    """The entries the other workers wrote."""
    mine = f"{FILE_PREFIX}{os.getpid()}.json"
    found: list[dict[str, Any]] = []
    for file in directory.glob(f"{FILE_PREFIX}*.json"):
        if file.name != mine:
            with contextlib.suppress(OSError, ValueError):
                found += json.loads(file.read_text())
    return found


def _cleared(directory: Path) -> float:
    try:
        return float((directory / CLEARED).read_text())
    except (OSError, ValueError):
        return 0.0


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"
