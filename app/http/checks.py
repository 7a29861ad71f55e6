"""Requests refused before any work: over-long queries, bad header bytes, path tricks."""

from __future__ import annotations

from .reply import Reply
from .request import Incoming

MAX_QUERY_BYTES = 4096  # in every mode: longer queries answer 414


def too_long(query: bytes) -> Reply | None:
    """A 414 for a query string over `MAX_QUERY_BYTES`, or None."""
    if len(query) <= MAX_QUERY_BYTES:
        return None
    message = f"The query string is too long ({len(query)} bytes; at most {MAX_QUERY_BYTES})."
    return Reply.message(414, {"message": message})


_VISIBLE = frozenset(range(0x20, 0x7F)) | {0x09}
TWO_AUTHORIZATIONS = Reply.message(400, {"message": "Send one Authorization header, not several."})


def refusal(incoming: Incoming, *, passthrough: bool) -> Reply | None:
    """Why a request cannot be sent on as it is (a JSON error reply), or None.

    One `Authorization` header at most, in visible ASCII (else Laravel's 401);
    every other header value sent on in visible ASCII; on a pass-through path,
    no control byte and no `.` or `..` segment (it would leave /api/ upstream).
    """
    authorizations = [value for name, value in incoming.headers if name == b"authorization"]
    if len(authorizations) > 1:
        return TWO_AUTHORIZATIONS
    if authorizations and not _VISIBLE.issuperset(authorizations[0]):
        return Reply.message(401, {"message": "Unauthenticated."})
    names = None if passthrough else {b"accept"}
    for name, value in incoming.headers:
        if (names is None or name in names) and not _VISIBLE.issuperset(value):
            header = name.decode("latin-1", "replace")
            message = f"The {header} header holds bytes that are not visible ASCII."
            return Reply.message(400, {"message": message})
    if passthrough:
        raw = incoming.raw_path
        decoded_path = incoming.path.encode("utf-8", "surrogateescape")
        if any(byte < 0x20 or byte == 0x7F for byte in raw + decoded_path):
            return Reply.message(400, {"message": "The path holds control characters."})
        segments = raw.split(b"/")
        decoded = [segment.replace(b"%2e", b".").replace(b"%2E", b".") for segment in segments]
        if any(segment in {b".", b".."} for segment in decoded):
            return Reply.message(400, {"message": "The path holds a . or .. segment."})
    return None
