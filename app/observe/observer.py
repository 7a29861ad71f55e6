"""One place that sees every answer: access line, journal entry, counters, history.

The edge calls `Observer.saw` once per request, as the answer starts, with
the request's head, the status sent and, when a service made the answer, its
record (`http.service.Served`: the cache's verdict and the upstream time). It
is the same call in every mode and log format, so the access line, the journal,
`/_proxy/stats` and the status page's charts count the same answers, each with
its real method and the one fingerprint of its key (`http.keys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter
from typing import Any

from ..http.keys import fingerprint_of
from ..http.request import Head
from ..http.service import Served
from .access import AccessLog, json_line, uvicorn_line
from .history import BY_X_CACHE, MOCK, History
from .journal import Journal
from .shown import escaped, mask_phones, shown_query
from .stats import Stats

Scope = Mapping[str, Any]
LINES_KEPT = 1024
LINE_KEPT_CHARS = 1024  # a longer line is made again each time: the kept ones stay small


class Observer:
    """Writes down each answer wherever this server keeps them."""

    def __init__(
        self,
        *,
        access: AccessLog | None = None,
        journal: Journal | None = None,
        history: History | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.access = access
        self.journal = journal
        self.history = history
        self.stats = stats  # proxy modes: the answers by cache verdict
        self._json = access is not None and access.json_lines
        # Text lines that repeat, by what decides them (see `_line`).
        self._lines: dict[tuple[object, ...], str] = {}

    def saw(
        self, scope: Scope, head: Head, status: int, served: Served | None, started: float
    ) -> None:
        """One answer; `started` is the perf_counter() reading when the request came."""
        if served is not None and not served.forwarded:
            self.listing(scope, head, status, served, started)
            return
        if served is not None:  # a pass-through
            if self.stats is not None:
                self.stats.requests += 1
                self.stats.forwarded += 1
            if self.journal is not None:
                self.journal.note(head, status, served, started, perf_counter() - started)
        if self.access is not None:
            self._line(scope, head, status, served, started)

    def listing(
        self, scope: Scope, head: Head, status: int, served: Served, started: float
    ) -> None:
        """One answer of the leads listing (the hot path's: kept to plain steps)."""
        cache = served.cache
        if self.stats is not None and cache is not None:
            self.stats.answered(cache, status)
        if self.history is not None:
            self.history.answered_at(started, MOCK if cache is None else BY_X_CACHE[cache])
        if self.journal is not None:
            self.journal.note(head, status, served, started, perf_counter() - started)
        if self.access is not None:
            self._line(scope, head, status, served, started)

    def _line(
        self, scope: Scope, head: Head, status: int, served: Served | None, started: float
    ) -> None:
        access = self.access
        assert access is not None  # noqa: S101 - callers look first
        if self._json:
            access.line(self._json_line(scope, head, status, served, perf_counter() - started))
            return
        cache = None if served is None else served.cache
        if served is not None and cache is not None and served.upstream is not None:
            # A miss: its own upstream time.
            waited = f"{served.upstream * 1000:.1f}ms"
            access.line(_proxy_line(head, status, cache, waited))
            return
        # The other lines repeat (a hit's for its key, uvicorn's for its connection):
        # each is made once.
        same: tuple[object, ...] = (
            (head.method, head.path, status, cache, head.authorization)
            if cache is not None
            else (head.method, head.path, head.query, status, scope.get("client"),
                  scope.get("http_version"))
        )  # fmt: skip
        line = self._lines.get(same)
        if line is None:
            line = (
                _proxy_line(head, status, cache, "-")
                if cache is not None
                else uvicorn_line(scope, head.method, head.path, head.query, status)
            )
            if len(line) <= LINE_KEPT_CHARS:
                if len(self._lines) >= LINES_KEPT:
                    self._lines.clear()
                self._lines[same] = line
        access.line(line)

    def _json_line(
        self, scope: Scope, head: Head, status: int, served: Served | None, took: float
    ) -> str:
        client = scope.get("client")
        cache = upstream = None
        if served is not None:
            upstream = served.upstream
            # Proxy modes: the cache's verdict; mock mode: where the answer came from.
            cache = served.cache.lower() if served.cache is not None else served.source
        return json_line(
            method=head.method,
            path=mask_phones(head.path),
            query=shown_query(head.query),
            status=status,
            cache=cache,
            key=fingerprint_of(head.authorization),
            upstream=upstream,
            took=took,
            client=f"{client[0]}:{client[1]}" if client else None,
        )


def _proxy_line(head: Head, status: int, cache: str, waited: str) -> str:
    key = fingerprint_of(head.authorization) or "-"
    request = escaped(f"{head.method} {mask_phones(head.path)}")
    return f"{request} {status} {cache} upstream={waited} key={key}"
