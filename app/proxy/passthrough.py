"""The rest of the API, sent on as it is: the request the upstream gets for a
pass-through, and which of them write to a lead (and so drop its key's listings)."""

from __future__ import annotations

import re

from ..http.request import Incoming
from .exchange import Answer, forwardable
from .upstream import Upstream

LEAD_WRITES = re.compile(r"/api/user/(lead|leads/[^/]+)/?")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def send_on(upstream: Upstream, incoming: Incoming) -> Answer:
    """Send a request on as it came: method, path, query, headers (less hop-by-hop
    ones) and body; the answer keeps its Content-Encoding. Raises UpstreamError."""
    # /api/<rest> goes to <upstream>/<rest> as the client wrote it (%3F stays
    # %3F); the /leads alias to the listing.
    raw = incoming.raw_path or incoming.path.encode()
    path = raw[4:].decode("latin-1") if raw.startswith(b"/api/") else "/user/leads"
    received = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in incoming.headers]
    headers = forwardable(received)
    if incoming.method == "HEAD":
        # An upstream that sends a body with its HEAD answer would leave it on
        # the connection for the next request, another key's: use one once.
        headers.append(("Connection", "close"))
    return await upstream.request(
        incoming.method,
        path,
        query=incoming.query.decode("latin-1"),
        headers=headers,
        body=incoming.body,
        decode=False,
    )


def is_lead_write(incoming: Incoming) -> bool:
    """A write to a lead: the key's cached listings are out of date once it succeeds."""
    return incoming.method in WRITE_METHODS and bool(LEAD_WRITES.fullmatch(incoming.path))
