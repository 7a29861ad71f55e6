"""The request journal: the last N API requests, for people and tests to look at.

A request costs one tuple appended to a bounded deque (its raw values and its
reply; a path or query of at most `MAX_KEPT` bytes, a long Authorization as its
fingerprint); what is shown is worked out only when the journal is read, and
only for the entries returned: the path and query with phone numbers masked
(`observe.shown`; each path and query worked out once, then remembered), the key
as a fingerprint (`http.keys`, never the key), the cache result or the mock
source, the `Prefer` applied, upstream and total time.

Under `--workers N`, each worker writes its entries (as shown, never a key)
to a file of its own in the server's shared folder at most twice a second, and
a reader merges its own with the others' (each file read again only when it
changed); clearing writes a mark every worker's entries are read against.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from ..http.files import write_atomically
from ..http.keys import fingerprint_of
from ..http.request import Head
from ..http.service import Served
from .shown import mask_phones, shown_query

__all__ = ["DEFAULT_SIZE", "Journal", "mask_phones"]

DEFAULT_SIZE = 1000
WRITE_EVERY = 0.5  # seconds, under --workers
FILE_PREFIX = "journal-"
CLEARED = "journal.cleared"
MAX_KEPT = 4096  # characters of a path, bytes of a query, an entry keeps (a longer one is a 414)
LONG_AUTHORIZATION = 256  # bytes: a longer header is kept as its fingerprint
Headers = Sequence[tuple[bytes, bytes]]
# started, took, method, path, query, Authorization (or its fingerprint), status, cache,
# source, prefer, upstream: plain values only, so that the collector lets the entries be
# (a tuple that holds a list or a record stays tracked, and each full collection walks
# all of them).
Raw = tuple[
    float, float, str, str, bytes, bytes | str | None, int, str | None, str | None,
    str | None, float | None,
]  # fmt: skip
_STARTED = itemgetter(0)
_AT = itemgetter("at")


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
        # Paths and queries as shown, by what came: each is masked once.
        self._shown: dict[str | bytes, str] = {}
        # The siblings' entries, newest first, and the files' states they were read in.
        self._siblings: tuple[tuple[tuple[str, int, int], ...], list[dict[str, Any]]] = ((), [])

    def note(self, head: Head, status: int, served: Served, started: float, took: float) -> None:
        """One answered request: its head, the status sent and the service's record;
        `started` is a perf_counter() reading, `took` seconds. Plain values only are kept."""
        authorization: bytes | str | None = head.authorization
        if authorization is not None and len(authorization) > LONG_AUTHORIZATION:
            authorization = fingerprint_of(head.authorization) or ""
        self._raw.append(
            (started, took, head.method, head.path[:MAX_KEPT], head.query[:MAX_KEPT],
             authorization, status, served.cache, served.source, served.prefer,
             served.upstream)
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
        """The entries, newest first, that pass every filter given; only those returned
        are worked out."""
        wanted = cache.lower() if cache is not None else None
        since_started = None if since is None else since - self._wall_offset
        found: Iterator[dict[str, Any]] = (
            self._entry(raw)
            for raw in sorted(self._raw, key=_STARTED, reverse=True)
            if (status is None or raw[6] == status)
            and (wanted is None or wanted in {(raw[7] or "").lower(), raw[8]})
            and (since_started is None or raw[0] >= since_started)
            and (key is None or _key_of(raw[5]) == key)
            and (path is None or self._path(raw[3]) == path)
        )
        if self.directory is not None:
            cleared = _cleared(self.directory)
            others = (
                entry
                for entry in self._sibling_entries()
                if (path is None or entry["path"] == path)
                and (status is None or entry["status"] == status)
                and (wanted is None or wanted in {entry["cache"], entry["source"]})
                and (key is None or entry["key"] == key)
                and (since is None or entry["at"] >= since)
            )
            merged = heapq.merge(found, others, key=_AT, reverse=True)
            found = (entry for entry in merged if entry["at"] > cleared)
        return list(itertools.islice(found, limit if limit is not None else self.size))

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
                    shown = [self._entry(raw) for raw in self._raw]
                    await asyncio.to_thread(write_atomically, path, json.dumps(shown))
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def _path(self, path: str) -> str:
        shown = self._shown.get(path)
        if shown is None:
            shown = self._remember(path, mask_phones(path))
        return shown

    def _query(self, query: bytes) -> str:
        shown = self._shown.get(query)
        if shown is None:
            shown = self._remember(query, shown_query(query))
        return shown

    def _remember(self, raw: str | bytes, shown: str) -> str:
        if len(self._shown) >= 2 * self.size:
            self._shown.clear()
        self._shown[raw] = shown
        return shown

    def _entry(self, raw: Raw) -> dict[str, Any]:
        (started, took, method, path, query, authorization, status,
         cache, source, prefer, upstream) = raw  # fmt: skip
        at = started + self._wall_offset
        return {
            "at": at,
            "time": _iso(at),
            "worker": self._pid,
            "method": method,
            "path": self._path(path),
            "query": self._query(query) if query else "",
            "key": _key_of(authorization),
            "status": status,
            "cache": cache.lower() if cache else None,
            "source": source,
            "prefer": prefer,
            "upstream_ms": None if upstream is None else round(upstream * 1000, 1),
            "ms": round(took * 1000, 1),
        }

    def _sibling_entries(self) -> list[dict[str, Any]]:
        """The entries the other workers wrote, newest first (files read when they change)."""
        assert self.directory is not None  # noqa: S101 - callers look first
        mine = f"{FILE_PREFIX}{os.getpid()}.json"
        states = []
        for file in sorted(self.directory.glob(f"{FILE_PREFIX}*.json")):
            with contextlib.suppress(OSError):
                if file.name != mine:
                    stat = file.stat()
                    states.append((str(file), stat.st_mtime_ns, stat.st_size))
        read_in, entries = self._siblings
        if tuple(states) != read_in:
            entries = []
            for name, _, _ in states:
                with contextlib.suppress(OSError, ValueError):
                    entries += json.loads(Path(name).read_text())
            entries.sort(key=_AT, reverse=True)
            self._siblings = (tuple(states), entries)
        return entries


def _key_of(authorization: bytes | str | None) -> str | None:
    if isinstance(authorization, str):
        return authorization or None  # a long header's fingerprint, taken when noted
    return fingerprint_of(authorization)


def _cleared(directory: Path) -> float:
    try:
        return float((directory / CLEARED).read_text())
    except (OSError, ValueError):
        return 0.0


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"
