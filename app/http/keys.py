"""The API key: the bearer token out of an Authorization header, and its fingerprints.

A key is shown, wherever leads-proxy shows one (access lines of both formats,
the journal, the status page's cooling list, log lines), as one fingerprint:
8 hex digits of a BLAKE2b MAC of the key under the deployment's secret
(`use_secret`: derived from --key-secret when given, else a random secret the
server keeps in its state folder). The same key has the same fingerprint in
every process of a deployment and after every restart, so an operator can
follow it across the views and across replicas; and since the secret is not
known to whoever reads a view, a fingerprint cannot be checked against guessed
keys (a plain hash of `1|abc` was found in 731 guesses).

Recordings travel between machines (a fixtures folder in git, replayed in CI),
so their index names a key by `key_fingerprint`: a digest personalised for
leads-proxy with no secret, the same everywhere. It too cannot be turned back
into the key (32 bits stand for countless keys), but a guess can be checked
against it: a recorded key short enough to be guessed must not be relied on.

(The cache's own keys, in memory and in Redis, are an HMAC of the key under a
secret, `proxy.cache.KeyMaker`, and are never shown.)
"""

from __future__ import annotations

import hashlib
import secrets

from .memo import memo

# The key of shown fingerprints: random until the server sets its deployment's.
_shown_key = [secrets.token_bytes(32)]
# The key of the state's digests: random until mock mode's state file gives its own.
_state_secret = [secrets.token_bytes(32)]


def use_secret(secret: bytes) -> None:
    """Key the shown fingerprints with the deployment's secret (at start, in each process)."""
    _shown_key[0] = hashlib.blake2b(secret, digest_size=32, person=b"leads-shown-key").digest()
    fingerprint_of.clear()


def use_state_secret(secret: bytes) -> None:
    """Digest the keys of mock mode's state under the state file's own secret, so the
    file keeps its keys apart whatever the deployment's secret is now."""
    _state_secret[0] = secret
    state_key.clear()


def key_fingerprint(token: bytes) -> str:
    """The recordings' fingerprint of an API key: the same on every machine."""
    return hashlib.blake2b(token, digest_size=4, person=b"leads-recording").hexdigest()


def bearer_token(authorization: bytes | None) -> bytes | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    if authorization is None or authorization[:7].lower() != b"bearer ":
        return None
    return authorization[7:].strip() or None


@memo(entries=4096, key_bytes=256)
def fingerprint_of(authorization: bytes | None) -> str | None:
    """The shown fingerprint of an Authorization header's bearer token; None without one.

    Memoized: the same few headers come again and again, and this is asked for
    every access line and journal entry shown.
    """
    token = bearer_token(authorization)
    if token is None:
        return None
    return hashlib.blake2b(token, digest_size=4, key=_shown_key[0]).hexdigest()


@memo(entries=4096, key_bytes=256)
def state_key(authorization: bytes | None) -> str:
    """Where mock mode keeps a key's writes (`mock.state`): 128 bits of a MAC of the
    bearer token under the state file's own secret (`use_state_secret`), so two keys
    never share a state and the file never holds a key. No token (auth off) is a key
    of its own."""
    token = bearer_token(authorization) or b""
    digest = hashlib.blake2b(token, digest_size=16, key=_state_secret[0], person=b"leads-state")
    return digest.hexdigest()
