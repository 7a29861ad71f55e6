"""Entity tags: one per body (a keyed hash of its bytes), and If-None-Match matching."""

from __future__ import annotations

import hashlib

from .encoding import same_data


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison of an If-None-Match list against one ETag.

    The gzip form's tag matches too (`"abc-gzip"` for `"abc"`): the same data.
    """
    if if_none_match.strip() == b"*":
        return True
    etag = same_data(etag.removeprefix(b"W/"))
    return any(
        same_data(tag.strip().removeprefix(b"W/")) == etag for tag in if_none_match.split(b",")
    )


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
