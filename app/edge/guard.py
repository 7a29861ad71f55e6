"""Bounds below the app: a request's head in bytes and in time, and connections at once.

uvicorn's httptools protocol reads a request's headers for as long and as far
as a client sends them: one connection streaming a 48 MiB header cost 50 MB
and 8 s of CPU, a thousand half-sent requests held a thousand sockets, and
past the open-files limit new connections were reset. `GuardedHttpTools` is
that protocol with
- `--max-header-bytes` on each request's head (request line and headers),
  past which the client gets 431, however the head is split across reads;
- `--header-timeout` from the head's first byte, past which it gets 408 (and
  the same bounds on a body's time, and on a chunked body's framing and trailers);
- the connections this process can hold open (`configure` reads its
  open-files limit), past which a new connection gets 503 at once;
- `--limit-concurrency`'s 503, and a head the parser cannot read (400), in JSON
  where uvicorn answers text.
Every answer is JSON in the API's shape, and the connection is closed after it.
`edge.serving.configure` sets the bounds, in the server process and in each
worker; a ready listing is written as its head completes (`edge.ready`).
"""

from __future__ import annotations

from typing import Any, NoReturn

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..settings import defaults
from . import refusals
from .asgi import FastLeads
from .hosts import target_host
from .ready import answer_ready

LINGER_SECONDS = 2.0
WARN_EVERY = 60.0  # seconds between warnings that connections are turned away
END = b"\r\n\r\n"  # a head's last line and the blank line after it
EMPTY = b"\r\n" + END  # a head's end and an empty line after it


class _Stop(Exception):
    """Raised in a parser callback to stop the parser; the answer waits on the protocol."""


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a request's head bounded in bytes and time,
    and connections past what the process can hold open answered 503."""

    max_head_bytes = defaults.MAX_HEADER_BYTES
    head_seconds = defaults.HEADER_TIMEOUT
    max_connections: int | None = None  # None: no bound of this protocol's own
    too_large = refusals.too_large(max_head_bytes)
    too_slow = refusals.too_slow(head_seconds)
    too_framed = refusals.too_framed(max_head_bytes)
    full = b""
    invalid = refusals.refusal(400, "Bad Request", "Invalid HTTP request received.")
    warned_at = float("-inf")
    leads: FastLeads | None = None  # where ready listings come from (edge.ready)

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        # The head's bytes, counted without a pass over them: `_may_be_head`, before
        # this part, may be the open head's (never fewer than it holds: all of parts
        # that were head throughout, and of the part it began in, what follows the
        # last blank line). A head that ends in a part within the bound together with
        # what may come before it is within the bound; only one that does not is
        # measured (`_head_size`), with that part (`_read`) and the one before's end.
        self._may_be_head, self._measure = 0, False
        self._read = self._tail = b""
        self._first: object = None  # the cycle before the read being measured
        self._refused, self._stopped, self._owed = False, b"", b""
        # A body's bytes read and its data: the rest, chunk framing and trailers
        # (uvicorn keeps every trailer line, unbounded), is bounded as a head is.
        self._bodied: object = None
        self._framed = self._data = 0
        # uvicorn's --limit-concurrency, kept here (on_headers_complete) in JSON.
        self._concurrency, self.limit_concurrency = self.limit_concurrency, None
        # When the current head's first byte came (None: no head pending). One check
        # a connection every `head_seconds`, not a timer or a parser hook a request.
        self._head_since: float | None = self.loop.time()
        # When the body began to be awaited (None: none): it too ends in head_seconds.
        self._body_since: float | None = None
        self._checker = self.loop.call_later(self.head_seconds, self._check_head)
        room = self.max_connections
        if room is not None and len(self.connections) > room:
            self._turn_away()

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, with the head's bytes counted around it. A read
        # over the bound is parsed in parts of at most the bound, so that a head
        # that begins and ends within one part is within the bound, uncounted.
        if self._refused:
            return  # read and dropped until the close, so the answer is not reset away
        self._unset_keepalive_if_required()
        bound = self.max_head_bytes
        if len(data) <= bound:
            self._parse(data)
            return
        for start in range(0, len(data), bound):
            if not self._parse(data[start : start + bound]) or self._refused:
                return

    def _parse(self, data: bytes) -> bool:  # noqa: PLR0912 - one call a part, not two
        """Parse one part of a read, counting the head's bytes: False where the parser
        stopped (an upgrade, or a head it cannot read)."""
        before = self.cycle
        in_body = before is not None and before.more_body
        size = len(data)
        self._measure = self._may_be_head + size > self.max_head_bytes
        if self._measure:
            self._read, self._first = data, before
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        except httptools.HttpParserError:
            if not self._stopped:
                self.logger.warning("Invalid HTTP request received.")
            self._refuse(self._stopped or self.invalid)
            return False
        if self._measure:
            self._read = b""  # not kept past its part
        cycle = self.cycle
        if cycle is not before or (in_body and not cycle.more_body):
            # A head or a body ended here. uvicorn makes a scope for each request as
            # it begins: the same one as the last head's, and no next head began.
            # One that did began after the part's last blank line (or later, past
            # a body): what follows that line may be its.
            self._head_since = None
            if not cycle.more_body:  # its body, if any, ended: the next is timed anew
                self._body_since = None
            if self.scope is cycle.scope:  # empty lines after it count toward the next
                self._may_be_head = 0
                if data.endswith(EMPTY):  # rarely: no slice or strip on a plain request
                    self._may_be_head = size - len(data.rstrip(b"\r\n")) - len(END)
                    self._tail = data[-3:]
            else:
                ended = data.rfind(END)
                if ended >= 0:  # empty lines before the next head count toward it
                    ended = len(data[:ended].rstrip(b"\r\n"))
                self._may_be_head = size - ended - len(END) if ended >= 0 else size
                self._tail = data[size - min(3, self._may_be_head) :]
        elif in_body:
            self._may_be_head = 0
        else:  # no body was being read and no head ended: all of it was head
            if self._head_since is None:
                self._head_since = self.loop.time()
            self._may_be_head += size
            self._tail = data[-3:]
            if self._may_be_head > self.max_head_bytes:
                self._refuse(self.too_large)
        if cycle is not None and (cycle.more_body or cycle.response_complete):
            self._after_read(cycle, size if in_body else 0)  # rarely: a body, or after
        return True

    def on_body(self, body: bytes) -> None:
        if self.cycle is not self._bodied:
            self._bodied, self._framed, self._data = self.cycle, 0, 0
        self._data += len(body)
        HttpToolsProtocol.on_body(self, body)

    def _after_read(self, cycle: Any, framed: int) -> None:
        """Bound the body's time and framing; re-arm keep-alive, which uvicorn stops at
        every read and restarts only as an answer completes (a late body held it open)."""
        if cycle.more_body:
            if self._body_since is None:
                self._body_since = self.loop.time()
            if cycle is not self._bodied:
                self._bodied, self._framed, self._data = cycle, 0, 0
            self._framed += framed  # a tiny chunk's framing is several times its data:
            if self._framed - self._data > self.max_head_bytes + 8 * self._data:
                self._end_body(self.too_framed)
            return
        self._body_since = None
        if (
            cycle.response_complete
            and self._head_since is None
            and self.timeout_keep_alive_task is None
            and not self.pipeline
            and not self.transport.is_closing()
        ):
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def on_headers_complete(self) -> None:
        if self._measure and self._head_size() > self.max_head_bytes:
            self._stop(self.too_large)
        limit = self._concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            self.logger.warning("Exceeded concurrency limit.")
            self._stop(refusals.busy(limit))
        if self.url[:1] != b"/" and self.url != b"*":  # absolute-form (RFC 9112 3.2.2):
            host = target_host(self.url)  # the host is the target's, not the Host header's
            if host is None:
                self._stop(self.invalid)
            self.headers[:] = [*((n, v) for n, v in self.headers if n != b"host"), (b"host", host)]
        elif self.leads is not None and answer_ready(self, self.leads):
            return  # a ready listing, written: no ASGI cycle (edge.ready)
        HttpToolsProtocol.on_headers_complete(self)

    def _complete_then_owed(self) -> None:  # on_response of the cycles before an owed answer
        HttpToolsProtocol.on_response_complete(self)
        if self._owed and self.cycle.response_complete and not self.transport.is_closing():
            self._send(self._owed)

    def connection_lost(self, exc: Exception | None) -> None:
        self._checker.cancel()
        super().connection_lost(exc)

    def _head_size(self) -> int:
        """The bytes of a head that may end past the bound: the first to end in the part,
        what may be its before, and its bytes up to its blank line (others: in the part)."""
        if self.cycle is not self._first:
            return 0
        tail = self._tail
        end = (tail + self._read).find(END) + len(END) - len(tail)
        return self._may_be_head + end

    def _stop(self, answer: bytes) -> NoReturn:
        self._stopped = answer
        raise _Stop

    def _check_head(self) -> None:
        now = self.loop.time()
        since = min(now if t is None else t for t in (self._head_since, self._body_since))
        if now - since >= self.head_seconds:
            if self._head_since is not None or self.cycle is None:
                self._refuse(self.too_slow)
            else:
                self._end_body(self.too_slow)
            return
        self._checker = self.loop.call_at(since + self.head_seconds, self._check_head)

    def _end_body(self, answer: bytes) -> None:
        """A body that may go on no longer: the answer now where none began (the app,
        told the client left, neither waits on the body nor answers), else the close."""
        if not (cycle := self.cycle).response_started:
            self._refused = cycle.disconnected = True
            cycle.message_event.set()
            self._send(answer)
        else:
            self.transport.close()

    def _turn_away(self) -> None:
        """A connection past what the process can hold: 503, and its file back at once
        (held, a burst would run out of files, and uvloop then resets all that wait);
        what it sent read first, so the close is a FIN after the answer."""
        now = self.loop.time()
        if now - GuardedHttpTools.warned_at >= WARN_EVERY:
            GuardedHttpTools.warned_at = now
            self.logger.warning(
                "Connections past the %d this process can hold open are answered 503",
                self.max_connections,
            )
        self._checker.cancel()
        self._refused = True
        self.transport.write(self.full)
        refusals.drain(self.transport.get_extra_info("socket"))
        self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        """Answer (after those owed to pipelined requests before it), read no more, close."""
        self._checker.cancel()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        if (cycle := self.cycle) is not None and cycle.more_body and not self.pipeline:
            self._end_body(answer)  # the app waits on a body that cannot go on
            return
        if cycle is not None and not cycle.response_complete:
            self._owed = answer  # sent after the last answer owed before it
            for cycle in (self.cycle, *(queued for queued, _ in self.pipeline)):
                cycle.on_response = self._complete_then_owed
            return
        self._send(answer)

    def _send(self, answer: bytes) -> None:
        """Write, stop writing, and close a moment later (a lingering close, as nginx does):
        a close at once, the client still sending, could reset the answer away unread."""
        self._unset_keepalive_if_required()
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)
