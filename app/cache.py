"""The proxy's cache: keys, entries of ready bytes, freshness states, storage.

A lookup answers one of three plain states, as hishel models HTTP caching:

    FRESH    younger than the TTL: serve it, ask nobody
    STALE    within stale-while-revalidate: serve it, refresh in the background
    EXPIRED  past that, within stale-if-error: serve it only if the upstream fails

and None when there is nothing usable. Entries are stored with their absolute
deadlines, computed once when filled; a hit does no other work.

Keys never hold an API key: a key's identity is an HMAC of it with a secret
that lives only in the process (`KeyMaker`), and only its short prefix (the
fingerprint) ever appears in logs.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from cachetools import TLRUCache

Headers = tuple[tuple[bytes, bytes], ...]
Clock = Callable[[], float]
ENTRY_OVERHEAD = 512  # bytes counted per entry on top of its body, for the byte bound


class State(enum.Enum):
    FRESH = "fresh"
    STALE = "stale"  # inside stale-while-revalidate
    EXPIRED = "expired"  # inside stale-if-error only


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached 200 answer: ready body and headers, and when it stops being usable."""

    body: bytes
    headers: Headers  # content-type, content-length, etag: sent as they are
    etag: bytes
    stored_at: float
    fresh_until: float
    stale_until: float  # end of stale-while-revalidate
    error_until: float  # end of stale-if-error

    def state(self, now: float) -> State | None:
        if now < self.fresh_until:
            return State.FRESH
        if now < self.stale_until:
            return State.STALE
        if now < self.error_until:
            return State.EXPIRED
        return None

    @property
    def size(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD


def normalize_query(query: str) -> str:
    """One spelling per meaning: last value wins, empty values dropped, names sorted."""
    pairs = dict(parse_qsl(query, keep_blank_values=True))
    return urlencode(sorted((name, value) for name, value in pairs.items() if value.strip()))


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where one key's answer to one query is stored."""

    fingerprint: str  # HMAC of the API key: tells keys apart, reveals nothing
    query: str  # normalized

    def __str__(self) -> str:
        return f"leads:{self.fingerprint}:{self.query}"

    @property
    def short(self) -> str:
        """What logs show of the key."""
        return self.fingerprint[:8]


class KeyMaker:
    """Derives cache keys from bearer tokens with an HMAC secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def fingerprint(self, token: bytes) -> str:
        return hmac.new(self._secret, token, hashlib.sha256).hexdigest()[:32]

    def key(self, token: bytes, query: str) -> CacheKey:
        return CacheKey(self.fingerprint(token), normalize_query(query))


class MemoryStorage:
    """Entries in process memory, bounded by count and by bytes, LRU first out."""

    def __init__(self, *, max_entries: int, max_bytes: int, clock: Clock) -> None:
        self.max_entries = max_entries
        self._entries: TLRUCache[CacheKey, Entry] = TLRUCache(
            maxsize=max_bytes,
            ttu=lambda _key, entry, _now: entry.error_until,
            timer=clock,
            getsizeof=lambda entry: entry.size,
        )

    def get(self, key: CacheKey) -> Entry | None:
        return self._entries.get(key)

    def put(self, key: CacheKey, entry: Entry) -> bool:
        """Store an entry; False when it is larger than the whole cache."""
        if entry.size > self._entries.maxsize:
            return False
        self._entries[key] = entry
        while len(self._entries) > self.max_entries:
            self._entries.popitem()
        return True

    def purge(self, fingerprint: str | None = None) -> int:
        """Drop every entry, or every entry of one API key; return how many."""
        doomed = [key for key in self._entries if fingerprint in {None, key.fingerprint}]
        for key in doomed:
            self._entries.pop(key, None)
        return len(doomed)

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)
