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
from ..http.encoding import gzip_of
from ..http.etag import etag_of
from ..http.jsonbody import encode
from ..http.keys import state_key
from ..http.service import Served
from .answers import STATE, whole
from .state import State
from .writes import MAX_KEY_BYTES

# The keys' listings kept ready, counted as `size` says: room for the largest a key may
# write (its JSON, about as much again parsed, and its gzip form), and then some.
LISTINGS_BYTES = 4 * MAX_KEY_BYTES
Parsed = dict[int, tuple[str, dict[str, Any]]]  # a lead's id: its row's JSON, and parsed


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

    parsed: Parsed = field(default_factory=dict)  # the rows as read, to parse only changes

    @classmethod
    def of(cls, version: int, fixture: Fixture, parsed: Parsed) -> Listing:
        reply = whole(fixture, STATE)
        # Both forms, and the parsed rows (their text, and about as much again as objects).
        size = len(fixture.body) * 3 + len(fixture.gzipped or b"")
        served, not_modified = Served.of_mock(reply), Served.of_mock(reply.not_modified())
        return cls(version, fixture, served, not_modified, parsed=parsed, size=size)


class KeyedListings:
    """Every written key's listing, kept ready within `max_bytes`."""

    def __init__(self, state: State, default: Fixture, *, max_bytes: int = LISTINGS_BYTES) -> None:
        self.state = state
        self.default = default
        self._encoded = [encode(lead) for lead in default.leads]  # each as the listing has it
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
        kept = self._kept.get(key)
        fixture, parsed = self._applied(rows, kept.parsed if kept is not None else {})
        return Listing.of(row[0] if row else 0, fixture, parsed)

    def _applied(
        self, rows: list[tuple[int, str | None]], parsed: Parsed
    ) -> tuple[Fixture, Parsed]:
        """The default with a key's rows applied: its updates in place, its deletes gone,
        its new leads after them by id. The body is joined from each lead's JSON (a row
        holds it as the listing writes it); a row is parsed only when it changed."""
        changed = dict(rows)
        leads: list[dict[str, Any]] = []
        parts: list[bytes] = []
        now: Parsed = {}

        def add(lead_id: int, body: str) -> None:
            before = parsed.get(lead_id)
            lead = before[1] if before is not None and before[0] == body else json.loads(body)
            now[lead_id] = (body, lead)
            leads.append(lead)
            parts.append(body.encode())

        for lead, encoded in zip(self.default.leads, self._encoded, strict=True):
            if lead["id"] not in changed:
                leads.append(lead)
                parts.append(encoded)
            elif (body := changed.pop(lead["id"])) is not None:
                add(lead["id"], body)
        for lead_id, body in sorted(changed.items()):
            if body is not None:
                add(lead_id, body)
        joined = b"[" + b",".join(parts) + b"]"  # encode(leads), without encoding them again
        # gzip's fastest level: a key's listing is made again after each of its writes.
        fixture = Fixture("state", tuple(leads), joined, etag_of(joined), gzip_of(joined, 1))
        return fixture, now
