"""Ready answers written by the protocol itself: a hit without an ASGI cycle.

Under uvicorn, an answer through ASGI costs a scope, a cycle, a task and two
`send` calls that check every header again: more than the whole of a hit's
own work. A request for the leads listing that a ready answer exists for
(`FastLeads.ready`: mock mode's rendered listings, proxy mode's fresh hits) is
answered here instead, as its head completes: the status line, uvicorn's own
`date` and `server`, and the reply's header lines (made once per reply) and body,
written in one call. Everything else, and every request this cannot
answer exactly as the ASGI path would, takes that path as before:

- any method but GET and HEAD, any path but the listing's four, an absolute
  or percent-encoded target, and HTTP/1.0 or `Connection: close`;
- a request with a body (`Content-Length`, `Transfer-Encoding`), an `Expect`
  or an upgrade, and one with forwarding headers (uvicorn's proxy-headers
  middleware decides what they mean);
- a request behind another still being answered (pipelined: answers keep the
  order they were asked in), and a client that is not reading what it was sent
  (the ASGI path waits for it to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from ..http.reply import Reply
from ..http.request import Head
from .asgi import LEADS_PATHS, FastLeads

PATHS = {path.encode(): path for path in LEADS_PATHS}
# Headers that send a request down the ASGI path (the others are looked at there).
FULL_PATH = frozenset(
    {b"content-length", b"transfer-encoding", b"forwarded", b"x-forwarded-for",
     b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port"}
)  # fmt: skip
WIRES_KEPT = 4096
WIRE_BODIES_KEPT = 64 * 1024 * 1024  # bytes of the bodies the kept entries name, at most


class _NoEvent:
    """The message event of a request answered here: nothing waits on it."""

    __slots__ = ()

    def set(self) -> None:
        pass


class Answered:
    """The cycle of a request answered here, as uvicorn's protocol looks at one after."""

    __slots__ = ("scope",)
    more_body = False
    response_started = response_complete = keep_alive = True
    disconnected = False
    message_event = _NoEvent()

    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope


class Wires:
    """A reply's header lines after the status line and uvicorn's, made once per reply.

    Keyed by the reply object, which each entry holds: a reply made for one request
    (CORS headers, a rate limit's) shares its body with the ready one, so what the
    entries hold is bounded by count and by the bytes of the bodies they name.
    """

    def __init__(self, *, entries: int = WIRES_KEPT, body_bytes: int = WIRE_BODIES_KEPT) -> None:
        self._made: dict[int, tuple[Reply, bytes]] = {}  # id -> reply, its header lines
        self._entries, self._body_bytes, self._held = entries, body_bytes, 0
        self._defaults: tuple[object, bytes] = (None, b"")

    def lines(self, reply: Reply) -> bytes | None:
        """The header lines and the blank line after them; None: not for this path."""
        made = self._made.get(id(reply))
        if made is not None and made[0] is reply:
            return made[1]
        names = {name for name, _ in reply.headers}
        # uvicorn would frame an answer without a length in chunks, or close after it.
        if b"connection" in names or (
            b"content-length" not in names and reply.status not in (204, 304)
        ):
            return None
        lines = _lines(reply.headers) + b"\r\n"
        if len(self._made) >= self._entries or self._held + len(reply.body) > self._body_bytes:
            self._made.clear()
            self._held = 0
        self._made[id(reply)] = (reply, lines)
        self._held += len(reply.body)
        return lines

    def defaults(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        """uvicorn's `date` and `server` lines (the list is new every second)."""
        kept, lines = self._defaults
        if kept is not headers:
            lines = _lines(headers)
            self._defaults = (headers, lines)
        return lines

    @property
    def held(self) -> tuple[int, int]:
        """Entries, and the bytes of the bodies they name."""
        return len(self._made), self._held


def _lines(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    return b"".join(b"%s: %s\r\n" % pair for pair in headers)


WIRES = Wires()


def answer_ready(protocol: HttpToolsProtocol, leads: FastLeads) -> bool:
    """Answer the request whose head just completed, if a ready answer is exactly
    what the ASGI path would send; False (nothing done) where it must go that way."""
    url = protocol.url
    path, _, query = url.partition(b"?")
    listing = PATHS.get(path)
    if listing is None or b"#" in query:
        return False
    parser = protocol.parser
    method = parser.get_method()
    if method != b"GET" and method != b"HEAD":  # noqa: PLR1714 - bytes, two compares
        return False
    cycle = protocol.cycle
    if (
        (cycle is not None and not cycle.response_complete)
        or protocol.pipeline
        or protocol.flow.write_paused
        or protocol.expect_100_continue
        or not parser.should_keep_alive()
        or parser.should_upgrade()
        or parser.get_http_version() != "1.1"
        or protocol.transport.is_closing()
    ):
        return False
    headers = protocol.headers
    for name, _ in headers:
        if name in FULL_PATH:
            return False
    verb = "GET" if method == b"GET" else "HEAD"
    scope = cast("dict[str, Any]", protocol.scope)
    head = Head.read(verb, listing, query, headers, protocol.scheme or "http")
    found = leads.ready(head)
    if found is None:
        return False
    served, reply, started = found
    lines = WIRES.lines(reply)
    if lines is None:
        return False
    leads.observe(scope, head, served, reply, started)
    protocol.cycle = Answered(scope)  # type: ignore[assignment]
    protocol.server_state.total_requests += 1
    defaults = WIRES.defaults(protocol.server_state.default_headers)
    body = b"" if verb == "HEAD" else reply.body
    protocol.transport.write(b"".join((STATUS_LINE[reply.status], defaults, lines, body)))
    return True
