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
    # Mock modes: where the answer came from (X-Mock-Source), the Prefer it applied
    # (Preference-Applied). Held here so that the journal keeps plain values only.
    source: str | None = None
    prefer: str | None = None

    @property
    def status(self) -> int:
        return self.reply.status

    @classmethod
    def of_mock(cls, reply: Reply) -> Served:
        """A mock answer's record: where it came from and the Prefer applied, as its
        headers say (read once, as the answer is made)."""
        source = prefer = None
        for name, value in reply.headers:
            if name == b"x-mock-source":
                source = value.decode("latin-1")
            elif name == b"preference-applied":
                prefer = value.decode("latin-1")
        return cls(reply, source=source, prefer=prefer)


class LeadsService(Protocol):
    """What serves the leads listing: mock, proxy and record modes alike."""

    def hot(self, head: Head) -> Served | None:
        """The answer if it is ready without any work, else None (take the full path)."""

    async def answer(self, incoming: Incoming) -> Served:
        """Any leads listing request."""
