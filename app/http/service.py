"""What the edge asks of a mode, and what a mode says it did.

A service answers the leads listing with a `Served`: the reply to send and
what happened on the way (the cache's verdict, the time spent on the
upstream). The edge sends the reply and hands the record to the observer;
nobody reads the verdict back out of header bytes.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from .reply import Reply
from .request import Head, Incoming

HIT, STALE, MISS, BYPASS = "HIT", "STALE", "MISS", "BYPASS"  # X-Cache labels


class Served(NamedTuple):
    """One answer and what happened to make it."""

    reply: Reply
    cache: str | None = None  # proxy modes: HIT, STALE, MISS or BYPASS (as X-Cache says)
    upstream: float | None = None  # seconds spent waiting on the upstream, if any
    forwarded: bool = False  # a pass-through of the rest of the API, not the listing

    @property
    def status(self) -> int:
        return self.reply.status


class LeadsService(Protocol):
    """What serves the leads listing: mock, proxy and record modes alike."""

    def hot(self, head: Head) -> Served | None:
        """The answer if it is ready without any work, else None (take the full path)."""

    async def answer(self, incoming: Incoming) -> Served:
        """Any leads listing request."""
