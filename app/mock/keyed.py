"""The listing of a key that has written: the default fixture with its writes applied.

Built once per version of the key's state (on the state's thread: reading the
rows, encoding, gzip), then kept as ready bytes like any other mock listing,
its filtered and paged answers with it, until the key writes again. Which
keys have written, and at which version, is read again only when the state
says something changed (`State.changed`, an 8-byte read).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal

from cachetools import LRUCache

from ..fixtures.files import Fixture
from ..http.keys import state_key
from ..http.service import Served
from .answers import STATE, whole
from .state import State

LISTINGS_BYTES = 32 * 1024 * 1024  # the keys' listings kept ready, counted as `size` says


@dataclass(slots=True)
class Listing:
    """One key's listing at one version, and its answers made so far."""

    version: int
    fixture: Fixture
    served: Served
    not_modified: Served
    # (path, raw query, Host, scheme) -> the answer made for it (see MockService.hot).
    answered: dict[tuple[str, bytes, bytes | None, str], Served] = field(default_factory=dict)
    size: int = 0

    @classmethod
    def of(cls, version: int, fixture: Fixture) -> Listing:
        reply = whole(fixture, STATE)
        forms = len(fixture.body) + len(fixture.gzipped or b"")
        served = Served.of_mock(reply)
        return cls(version, fixture, served, Served.of_mock(reply.not_modified()), size=forms)


class KeyedListings:
    """Every written key's listing, kept ready within `max_bytes`."""

    def __init__(self, state: State, default: Fixture, *, max_bytes: int = LISTINGS_BYTES) -> None:
        self.state = state
        self.default = default
        self.versions: dict[str, int] = {}  # as of State.seen
        self._kept: LRUCache[str, Listing] = LRUCache(max_bytes, attrgetter("size"))

    def ready(self, authorization: bytes | None) -> Listing | Literal[False] | None:
        """The hot path's question: False when the key has not written (as of the last
        look), its listing when it is ready, None when it must be made first."""
        if self.state.changed():
            return None
        if not self.versions:
            return False
        key = state_key(authorization)
        version = self.versions.get(key)
        if version is None:
            return False
        listing = self._kept.get(key)
        return listing if listing is not None and listing.version == version else None

    async def listing(self, authorization: bytes | None) -> Listing | None:
        """The key's listing, made if it is not ready; None when it has not written."""
        if self.state.changed():
            self.versions = await self.state.versions()
        key = state_key(authorization)
        version = self.versions.get(key)
        if version is None:
            return None
        listing = self._kept.get(key)
        if listing is None or listing.version != version:
            listing = await self.state.run(lambda db: self._made(db, key))
            self.remember(key, listing)
        return listing

    def remember(self, key: str, listing: Listing) -> None:
        if listing.size <= self._kept.maxsize:
            self._kept[key] = listing

    def grew(self, authorization: bytes | None, listing: Listing, added: int) -> None:
        """Count an answer kept with a listing (LRUCache counts sizes as they are set)."""
        listing.size += added
        self.remember(state_key(authorization), listing)

    def forget(self) -> None:
        self.versions = {}
        self._kept.clear()

    def _made(self, db: sqlite3.Connection, key: str) -> Listing:
        db.execute("BEGIN")  # one snapshot for the version and the rows
        try:
            row = db.execute("SELECT version FROM keys WHERE key = ?", (key,)).fetchone()
            rows = db.execute("SELECT id, body FROM leads WHERE key = ?", (key,)).fetchall()
        finally:
            db.execute("COMMIT")
        return Listing.of(row[0] if row else 0, Fixture.of("state", apply(self.default, rows)))


def apply(default: Fixture, rows: Any) -> list[dict[str, Any]]:
    """The default's leads with a key's rows applied: its updates in place, its deletes
    gone, its new leads after them by id."""
    changed: dict[int, str | None] = dict(rows)
    leads = []
    for lead in default.leads:
        if lead["id"] not in changed:
            leads.append(lead)
        elif (body := changed.pop(lead["id"])) is not None:
            leads.append(json.loads(body))
    leads += [json.loads(body) for _, body in sorted(changed.items()) if body is not None]
    return leads
