"""The API key: the bearer token out of an Authorization header, and its fingerprint.

A key is shown, wherever leads-proxy shows one (access lines of both formats,
the journal, the status page's cooling list, log lines, the recordings'
index), as one fingerprint: 8 hex digits of a BLAKE2b digest of the key,
personalised for leads-proxy. The same key has the same fingerprint in every
process, on every machine and after every restart, so an operator can follow
it across the views and across replicas; a recording made on one machine is
replayed for the same key on another.

It cannot be turned back into the key: the digest is one-way, and 32 bits are
far fewer than a key holds, so each fingerprint stands for countless keys.
What it does not stop is a guess being checked against it: a key short enough
to be guessed must not be relied on.

(The cache's own keys, in memory and in Redis, are an HMAC of the key under a
secret, `proxy.cache.KeyMaker`, and are never shown.)
"""

from __future__ import annotations

import functools
import hashlib


def key_fingerprint(token: bytes) -> str:
    """The fingerprint of an API key (never the key itself)."""
    return hashlib.blake2b(token, digest_size=4, person=b"leads-recording").hexdigest()


def bearer_token(authorization: bytes | None) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    if authorization is None or authorization[:7].lower() != b"bearer ":
        return None
    return authorization[7:].strip() or None


@functools.lru_cache(maxsize=4096)
def fingerprint_of(authorization: bytes | None) -> str | None:
    """The fingerprint of an Authorization header's bearer token; None without one.

    Memoized: the same few headers come again and again, and this is asked for
    every access line and journal entry shown.
    """
    token = bearer_token(authorization)
    return None if token is None else key_fingerprint(token)
