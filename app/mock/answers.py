"""The answers mock mode makes: scenario bodies, ready listings, and what they cost to keep."""

from __future__ import annotations

import hashlib

from ..fixtures.files import Fixture
from ..fixtures.generate import generate_leads
from ..http.etag import etag_of
from ..http.keys import bearer_token
from ..http.reply import Reply
from ..http.request import Incoming
from ..http.service import Served
from .query import QueryError
from .replay import PRIVATE

RETRY_AFTER_SECONDS = 60

# X-Mock-Source, on every answer: made from the fixtures, or from a key's writes.
EMULATED = (b"x-mock-source", b"emulated")
STATE = (b"x-mock-source", b"state")
Source = tuple[bytes, bytes]


def whole(fixture: Fixture, source: Source = EMULATED) -> Reply:
    """A fixture's whole listing, as it is sent."""
    reply = Reply.json(200, fixture.body, (b"etag", fixture.etag), PRIVATE, source)
    return reply.with_gzip(fixture.gzipped)


def rendered(body: bytes, gzipped: bytes | None, source: Source) -> Reply:
    """A filtered or paged listing, as it is sent."""
    return Reply.json(200, body, (b"etag", etag_of(body)), PRIVATE, source).with_gzip(gzipped)


# The bodies the real API (Laravel) sends for each scenario status.
SCENARIOS: dict[int, Reply] = {
    401: Reply.message(401, {"message": "Unauthenticated."}, EMULATED),
    404: Reply.message(404, {"message": "Lead not found"}, EMULATED),
    422: Reply.message(
        422,
        QueryError({"per_page": ["The per page field must be between 1 and 100."]}).body(),
        EMULATED,
    ),
    429: Reply.message(
        429,
        {"message": "Too Many Attempts."},
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"x-ratelimit-limit", b"60"),
        (b"x-ratelimit-remaining", b"0"),
        EMULATED,
    ),
    500: Reply.message(500, {"message": "Server Error"}, EMULATED),
    503: Reply.message(503, {"message": "Service Unavailable"}, EMULATED),
}
# `Prefer: code=` on a write: the words the write itself would answer with.
WRITE_SCENARIOS: dict[int, Reply] = {
    **SCENARIOS,
    422: Reply.message(
        422,
        {
            "message": "The phone number field is required.",
            "errors": {"phone_number": ["The phone number field is required."]},
        },
        EMULATED,
    ),
}
CREATE_SCENARIOS = {
    **WRITE_SCENARIOS,
    404: Reply.message(404, {"message": "Campaign not found"}, EMULATED),
}
UNAUTHENTICATED = SCENARIOS[401]
UNAUTHENTICATED_SERVED = Served.of_mock(UNAUTHENTICATED)


def unknown_example(name: str | None, names: list[str]) -> Reply:
    message = f"Unknown example {name!r}. Known examples: {', '.join(names)}"
    return Reply.message(404, {"message": message, "examples": names}, EMULATED)


def walk_seed(request: Incoming) -> int:
    """The data set of `Prefer: dynamic=true` without a seed: one per API key and
    filters, so every page of one client's walk (next_page_url carries no header)
    comes from the same set. Only `page` is left out."""
    token = bearer_token(request.head.authorization) or b""
    kept = sorted((name, value) for name, value in request.query_pairs if name != "page")
    material = token + b"\0" + repr(kept).encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=4).digest(), "big")


def size_of(reply: Reply, *key: str | bytes | None) -> int:
    """Bytes a reply (both forms, headers) and its key's parts hold, 1 KiB for the objects."""
    forms = (reply, reply.gzipped) if reply.gzipped else (reply,)
    held = [form.body for form in forms] + [b"".join(pair) for f in forms for pair in f.headers]
    return sum(map(len, held)) + sum(len(part or "") + 64 for part in key) + 1024


def generated(count: int, seed: int) -> Fixture:
    """A generated data set as a fixture (validated and encoded once)."""
    return Fixture.of("dynamic", generate_leads(count, seed=seed))
