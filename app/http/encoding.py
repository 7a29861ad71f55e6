"""Content codings: gzip made once per body, and the choice a request's
`Accept-Encoding` makes between it and identity.

A listing's gzip form is made when its bytes are (a fixture loaded, a listing
rendered, a cache entry filled), never per request; bodies under
`MIN_BYTES` stay identity only. The gzip form has its own ETag, the identity
one with `-gzip` inside the quotes (as Apache's mod_deflate does), and an
`If-None-Match` naming either form matches the same data.
"""

from __future__ import annotations

import gzip
import re

MIN_BYTES = 1024  # smaller bodies gain little and cost a header or two
LEVEL = 6
SUFFIX = b'-gzip"'
VARY = (b"vary", b"Accept-Encoding")
_CODING = re.compile(rb"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*")
_CHOICES: dict[bytes, bool] = {}  # Accept-Encoding values seen, and whether gzip wins
_CHOICES_LIMIT = 256


def gzip_of(body: bytes, level: int = LEVEL) -> bytes | None:
    """The body in gzip (the same bytes for the same body), or None when it is small."""
    if len(body) < MIN_BYTES:
        return None
    return gzip.compress(body, level, mtime=0)


def gzip_etag(etag: bytes) -> bytes:
    """The ETag of a body's gzip form: `"abc"` gives `"abc-gzip"` (and `W/` stays)."""
    return etag[:-1] + SUFFIX


def gzip_headers(
    identity: tuple[tuple[bytes, bytes], ...], size: int
) -> tuple[tuple[bytes, bytes], ...]:
    """The gzip form's headers from the identity form's: its length, its ETag, its
    coding, and `Vary: Accept-Encoding`."""
    headers = []
    for name, value in identity:
        if name == b"content-length":
            headers.append((name, str(size).encode()))
        elif name == b"etag":
            headers.append((name, gzip_etag(value)))
        elif name != b"vary":
            headers.append((name, value))
    return (*headers, (b"content-encoding", b"gzip"), VARY)


def same_data(tag: bytes) -> bytes:
    """A tag with its `-gzip` mark removed: both forms of one body compare equal."""
    return tag[: -len(SUFFIX)] + b'"' if tag.endswith(SUFFIX) else tag


def prefers_gzip(accept_encoding: bytes | None) -> bool:
    """Whether gzip is chosen over identity (RFC 9110 12.5.3, with q-values).

    gzip wins when it is acceptable (named, or `*`, with q > 0) and its q is
    at least identity's; identity is acceptable unless refused by name or by
    `*;q=0`. The answer for each distinct header value is remembered.
    """
    if accept_encoding is None:
        return False
    chosen = _CHOICES.get(accept_encoding)
    if chosen is None:
        chosen = _choose(accept_encoding)
        if len(_CHOICES) >= _CHOICES_LIMIT:
            _CHOICES.clear()
        _CHOICES[accept_encoding] = chosen
    return chosen


def _choose(accept_encoding: bytes) -> bool:
    weights: dict[bytes, float] = {}
    for item in accept_encoding.split(b","):
        match = _CODING.fullmatch(item)
        if match is None:
            continue
        try:
            weight = float(match[2]) if match[2] else 1.0
        except ValueError:
            weight = 0.0
        weights[match[1].lower()] = min(max(weight, 0.0), 1.0)
    anything = weights.get(b"*")
    gzip_q = weights.get(b"gzip", weights.get(b"x-gzip", anything or 0.0))
    identity_q = weights.get(b"identity", anything if anything is not None else 1.0)
    return gzip_q > 0 and gzip_q >= identity_q
