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

import dataclasses
import enum
import functools
import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from cachetools import LRUCache

from app.encoding import VARY, gzip_headers

Headers = tuple[tuple[bytes, bytes], ...]
Clock = Callable[[], float]
SHA256_BLOCK = 64
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
    # Until when a hit may be answered from process memory without asking
    # anyone: the end of freshness, or sooner when a shared cache may hold a
    # newer copy. Never later than fresh_until.
    hot_until: float = math.inf
    # The last hit reply built, with its (age, ttl): hits in the same second share it.
    memo: list[Any] = field(default_factory=list, compare=False, repr=False)
    key_bytes: int = 0  # the length of the key it is stored under, counted in its size
    gzipped: bytes | None = None  # the body in gzip, made once when filled (None when small)
    gzip_headers: Headers = ()  # what a hit in gzip sends, for the same data

    def __post_init__(self) -> None:
        if self.hot_until > self.fresh_until:
            object.__setattr__(self, "hot_until", self.fresh_until)

    @classmethod
    def build(
        cls,
        body: bytes,
        *,
        etag: bytes,
        content_type: bytes,
        stored_at: float,
        fresh_until: float,
        stale_until: float,
        error_until: float,
        hot_until: float = math.inf,
        gzipped: bytes | None = None,
    ) -> Entry:
        """An entry with the headers a hit sends, in each form, computed once."""
        headers: Headers = (
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"etag", etag),
        )
        if gzipped is not None:
            headers = (*headers, VARY)
        return cls(
            body=body,
            headers=headers,
            gzipped=gzipped,
            gzip_headers=gzip_headers(headers, len(gzipped)) if gzipped is not None else (),
            etag=etag,
            stored_at=stored_at,
            fresh_until=fresh_until,
            stale_until=stale_until,
            error_until=error_until,
            hot_until=hot_until,
        )

    @property
    def content_type(self) -> bytes:
        return next((value for name, value in self.headers if name == b"content-type"), b"")

    def held(self, until: float) -> Entry:
        """The same entry, answered from memory until `until` at the latest."""
        return dataclasses.replace(self, hot_until=until, memo=[])

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
        """Bytes it holds: body, key and a fixed allowance for headers and bookkeeping."""
        return len(self.body) + len(self.gzipped or b"") + self.key_bytes + ENTRY_OVERHEAD


# Bytes left as they are when a query is written out again; every other byte
# is percent-encoded (upper-case hex), so one spelling stands for each byte.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ENCODED = [chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in range(256)]


def _encode(raw: bytes) -> str:
    return "".join([_ENCODED[byte] for byte in raw])


@functools.lru_cache(maxsize=4096)
def canonical_query(query: str) -> str:
    """The one spelling of a raw query string that the upstream is sent and the cache keys on.

    Two raw queries get the same canonical form only where PHP's `parse_str`
    (which Laravel's request reads) makes the same array of them:

    - `+` and `%20` are both a space, and any byte may be written `%XX` or as
      itself: each byte is decoded, then written one way (unreserved bytes as
      they are, the rest as upper-case `%XX`; an invalid escape like `%zz` is
      the literal `%zz` to PHP, so it is written `%25zz`);
    - a pair with an empty name (`=x`, `&&`) is ignored, as PHP ignores it;
    - a plain name given twice keeps its last value (`a=1&a=2` is `a=2`);
    - names are sorted (PHP keeps them in order of first appearance, which no
      filter of the listing depends on), but every occurrence of a name
      written with brackets (`ids[]=1&ids[]=2`, `a[x]=1`), and of any plain
      name sharing its base, is kept whole, in order: arrays are never merged
      or cut.

    Values are never trimmed and empty values never dropped: Laravel's
    TrimStrings uses PHP's `trim` (" \t\n\r\0\x0b", not Python's `strip`), and
    whether an empty value counts as absent is the controller's business.
    Memoized: apps poll the same few queries, and this is on every miss's path.
    """
    if not query:
        return ""
    raw = query.encode("latin-1")  # a lossless view of the bytes the client sent
    pairs: list[tuple[bytes, bytes, bytes]] = []  # (base name, name, value), decoded
    for part in raw.split(b"&"):
        name, _, value = part.partition(b"=")
        name = unquote_to_bytes(name.replace(b"+", b" "))
        if not name:
            continue
        value = unquote_to_bytes(value.replace(b"+", b" "))
        pairs.append((name.split(b"[", 1)[0], name, value))
    with_brackets = {base for base, name, _ in pairs if base != name}
    last: dict[bytes, int] = {}
    for index, (base, _, _) in enumerate(pairs):
        if base not in with_brackets:
            last[base] = index
    kept = [
        pair
        for index, pair in enumerate(pairs)
        if pair[0] in with_brackets or last[pair[0]] == index
    ]
    kept.sort(key=lambda pair: pair[0])  # stable: an array's items keep their order
    return "&".join(f"{_encode(name)}={_encode(value)}" for _, name, value in kept)


class CacheKey(str):
    """Where one key's answer to one query is stored: `leads:<fingerprint>:<query>`.

    A str, so that the storage hashes it at C speed, once.
    """

    __slots__ = ()

    @classmethod
    def of(cls, fingerprint: str, query: str) -> CacheKey:
        return cls(f"leads:{fingerprint}:{query}")

    @property
    def fingerprint(self) -> str:
        """The HMAC of the API key: tells keys apart, reveals nothing."""
        return self.split(":", 2)[1]

    @property
    def query(self) -> str:
        """The canonical query: what the upstream is sent for this entry, byte for byte."""
        return self.split(":", 2)[2]

    @property
    def short(self) -> str:
        """What logs show of the key."""
        return self.fingerprint[:8]


def bearer_token(authorization: bytes | None) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    if authorization is None or authorization[:7].lower() != b"bearer ":
        return None
    return authorization[7:].strip() or None


class KeyMaker:
    """Derives cache keys from bearer tokens with an HMAC secret.

    `of_request` remembers the keys of the last few thousand (Authorization,
    query) pairs it saw, so that a hit costs one dict lookup rather than an
    HMAC: the pairs stay in this process's memory, as the requests themselves
    do, and never reach a log, a file, Redis or a cache key.
    """

    REMEMBERED = 4096

    def __init__(self, secret: bytes | None = None) -> None:
        self._known: dict[tuple[bytes, bytes], CacheKey | None] = {}
        secret = secret or secrets.token_bytes(32)
        if len(secret) > SHA256_BLOCK:
            secret = hashlib.sha256(secret).digest()
        block = secret.ljust(SHA256_BLOCK, b"\0")
        # HMAC-SHA256 (RFC 2104) with its two padded-key states computed once:
        # the same digest as hmac.new(secret, token, "sha256"), at a third of
        # the cost, and this runs on every cache hit.
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))

    def fingerprint(self, token: bytes) -> str:
        inner = self._inner.copy()
        inner.update(token)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]

    def key(self, token: bytes, query: str) -> CacheKey:
        return CacheKey.of(self.fingerprint(token), canonical_query(query))

    def of_request(self, authorization: bytes | None, query: bytes) -> CacheKey | None:
        """The key for an Authorization header and a raw query; None without a bearer token."""
        if authorization is None:
            return None
        known = self._known
        pair = (authorization, query)
        try:
            return known[pair]
        except KeyError:
            pass  # a new pair: derive its key once
        if len(known) >= self.REMEMBERED:
            known.clear()
        token = bearer_token(authorization)
        key = known[pair] = None if token is None else self.key(token, query.decode("latin-1"))
        return key


class MemoryStorage:
    """Entries in process memory, bounded by count and by bytes, LRU first out.

    An entry is dropped once none of its windows is left: when it is next
    looked up, or by a sweep that runs at most once a minute when entries are
    stored. (cachetools' TLRUCache would do the same on every lookup, at five
    times the cost of the LRUCache lookup on a hit.)
    """

    SWEEP_EVERY = 60.0

    def __init__(self, *, max_entries: int, max_bytes: int, clock: Clock) -> None:
        self.max_entries = max_entries
        self._clock = clock
        self._swept_at = clock()
        # Changes whenever an entry is stored or dropped: a reply made from
        # the storage is still right while the generation is the one it saw.
        self.generation = 0
        self._entries: LRUCache[CacheKey, Entry] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda entry: entry.size
        )

    def get(self, key: CacheKey) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.error_until <= self._clock():
            self._entries.pop(key, None)
            self.generation += 1
            return None
        return entry

    def put(self, key: CacheKey, entry: Entry) -> bool:
        """Store an entry; False when it is larger than the whole cache."""
        if entry.key_bytes != len(key):
            entry = dataclasses.replace(entry, key_bytes=len(key))
        if entry.size > self._entries.maxsize:
            return False
        self.generation += 1
        self._entries[key] = entry
        while len(self._entries) > self.max_entries:
            self._entries.popitem()
        if (now := self._clock()) - self._swept_at >= self.SWEEP_EVERY:
            self._swept_at = now
            self._drop(lambda _key, old: old.error_until <= now)
        return True

    def purge(self, fingerprint: str | None = None) -> int:
        """Drop every entry, or every entry of one API key; return how many."""
        return self._drop(lambda key, _entry: fingerprint in {None, key.fingerprint})

    def _drop(self, doomed: Callable[[CacheKey, Entry], bool]) -> int:
        keys = [key for key, entry in list(self._entries.items()) if doomed(key, entry)]
        self.generation += 1
        for key in keys:
            self._entries.pop(key, None)
        return len(keys)

    @property
    def entries(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)
