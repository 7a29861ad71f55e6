"""The proxy's cache: keys and entries of ready bytes, with their freshness states.

A lookup answers one of three plain states, as hishel models HTTP caching:

    FRESH    younger than the TTL: serve it, ask nobody
    STALE    within stale-while-revalidate: serve it, refresh in the background
    EXPIRED  past that, within stale-if-error: serve it only if the upstream fails

and None when there is nothing usable. Entries are stored with their absolute
deadlines, computed once when filled; a hit does no other work.

Keys never hold an API key: a key's identity is an HMAC of it with a secret
(`KeyMaker`), and is never shown; what views and logs show of a key is its
fingerprint (`http.keys`). Storage is `proxy.storage`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from ..http.canonical import canonical_query
from ..http.encoding import VARY, gzip_headers
from ..http.keys import bearer_token

Headers = tuple[tuple[bytes, bytes], ...]
SHA256_BLOCK = 64
# Bytes counted per entry on top of its body, key and headers, for the byte bound: what
# the entry's objects and the storage's bookkeeping of it take (1.0 KiB measured, 3.11).
ENTRY_OVERHEAD = 1024
# What a per-key answer says to caches between us and the client when the upstream
# said nothing: only the client's may keep it, and only to revalidate (Laravel's words).
PRIVATE = b"no-cache, private"


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
        cache_control: bytes = PRIVATE,
    ) -> Entry:
        """An entry with the headers a hit sends, in each form, computed once."""
        headers: Headers = (
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"etag", etag),
            (b"cache-control", cache_control),
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

    @property
    def cache_control(self) -> bytes:
        return next((value for name, value in self.headers if name == b"cache-control"), PRIVATE)

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
        """Bytes it holds: body in each form, key, headers and an allowance for the objects."""
        headers = sum(len(name) + len(value) for name, value in self.headers)
        headers += sum(len(name) + len(value) for name, value in self.gzip_headers)
        return len(self.body) + len(self.gzipped or b"") + self.key_bytes + headers + ENTRY_OVERHEAD


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


class KeyMaker:
    """Derives cache keys from bearer tokens with an HMAC secret.

    `of_request` remembers the keys of the last few thousand (Authorization,
    query) pairs it saw, within `REMEMBERED_BYTES` of headers, queries and keys,
    so that a hit costs one dict lookup rather than an HMAC: the pairs stay in
    this process's memory, as the requests themselves do, and never reach a
    log, a file, Redis or a cache key.
    """

    REMEMBERED = 4096
    REMEMBERED_BYTES = 8 * 1024 * 1024
    PAIR_OVERHEAD = 256  # the pair's tuple, its key's str and the dict's slot

    def __init__(self, secret: bytes | None = None) -> None:
        self._known: dict[tuple[bytes, bytes], CacheKey | None] = {}
        self._known_bytes = 0
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
        token = bearer_token(authorization)
        key = None if token is None else self.key(token, query.decode("latin-1"))
        size = len(authorization) + len(query) + len(key or "") + self.PAIR_OVERHEAD
        if len(known) >= self.REMEMBERED or self._known_bytes + size > self.REMEMBERED_BYTES:
            known.clear()
            self._known_bytes = 0
        known[pair] = key
        self._known_bytes += size
        return key
