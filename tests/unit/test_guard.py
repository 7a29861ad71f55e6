"""The request-head guard (`edge.guard.GuardedHttpTools`) on a fake transport and loop:
what each read makes of the head's bound, the limits' JSON answers, the header timeout
on a fake clock. The same through a real server: tests/e2e/test_head_bounds.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from leads_proxy.edge.guard import GuardedHttpTools
from leads_proxy.edge.refusals import busy, refusal

BOUND = 1024
START = b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n"


@dataclass
class Timer:
    when: float
    callback: Callable[..., object]
    args: tuple[object, ...]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeTask:
    def add_done_callback(self, callback: Callable[..., object]) -> None:
        pass

    def __hash__(self) -> int:
        return id(self)


@dataclass
class FakeLoop:
    """A loop whose clock moves only when a test moves it, and whose tasks wait to be run."""

    now: float = 100.0
    timers: list[Timer] = field(default_factory=list)
    coroutines: list[Coroutine[Any, Any, None]] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., object], *args: object) -> Timer:
        return self.call_at(self.now + delay, callback, *args)

    def call_at(self, when: float, callback: Callable[..., object], *args: object) -> Timer:
        timer = Timer(when, callback, args)
        self.timers.append(timer)
        return timer

    def create_task(self, coroutine: Coroutine[Any, Any, None], **_: object) -> FakeTask:
        self.coroutines.append(coroutine)
        return FakeTask()

    def advance(self, seconds: float) -> None:
        self.now += seconds
        while due := [t for t in self.timers if t.when <= self.now and not t.cancelled]:
            for timer in due:
                self.timers.remove(timer)
                timer.callback(*timer.args)


@dataclass
class FakeTransport:
    written: bytearray = field(default_factory=bytearray)
    eof: bool = False
    closed: bool = False

    def write(self, data: bytes) -> None:
        assert not self.eof, "written after the end"
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Answers 200 with the request's path, once its body is read."""
    while (await receive()).get("more_body"):
        pass
    body = scope["path"].encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Guarded(GuardedHttpTools):
    """The guard with a bound of its own (`configure` sets the class every server uses)."""

    max_head_bytes = BOUND
    head_seconds = 10.0
    too_large = refusal(431, "Request Header Fields Too Large", f"over {BOUND} bytes")
    too_slow = refusal(408, "Request Timeout", "took over 10 s")
    full = refusal(503, "Service Unavailable", "full", retry_after=1)


@dataclass
class Connection:
    """One connection to the guard: feed it reads, run the app's tasks, read the answers."""

    limit_concurrency: int | None = None
    max_connections: int | None = None
    state: ServerState = field(default_factory=ServerState)
    loop: FakeLoop = field(default_factory=FakeLoop)
    transport: FakeTransport = field(default_factory=FakeTransport)
    leads: object = None  # where ready listings come from (edge.ready), if anywhere
    started: int = 0

    def __post_init__(self) -> None:
        config = Config(app, log_config=None, limit_concurrency=self.limit_concurrency)
        bounded = {"max_connections": self.max_connections, "leads": self.leads}
        protocol = type("Bounded", (Guarded,), bounded)
        self.protocol = protocol(config, self.state, {}, _loop=self.loop)
        self.protocol.connection_made(self.transport)

    def send(self, *reads: bytes) -> None:
        for data in reads:
            self.protocol.data_received(data)
        runner = asyncio.new_event_loop()
        try:
            while self.loop.coroutines:
                self.started += 1
                # A task that would wait for good (on a body that never ends) fails the test.
                runner.run_until_complete(asyncio.wait_for(self.loop.coroutines.pop(0), 5))
        finally:
            runner.close()

    def statuses(self) -> list[int]:
        return [int(line.split()[0]) for line in self.lines()]

    def lines(self) -> list[bytes]:
        return [
            part.split(b"\r\n")[0] for part in bytes(self.transport.written).split(b"HTTP/1.1 ")[1:]
        ]


def long_header(size: int) -> bytes:
    return START + b"X-Long: " + b"a" * (size - len(START) - 12) + b"\r\n\r\n"


def many_headers(size: int) -> bytes:
    lines, left, index = [], size - len(START) - 2, 0
    while left >= 40:
        lines.append(f"X-{index:03}: ".encode().ljust(18, b"m") + b"\r\n")
        left, index = left - 20, index + 1
    lines.append(b"X-Last:".ljust(left - 2, b"l") + b"\r\n")
    return START + b"".join(lines) + b"\r\n"


def long_line(size: int) -> bytes:
    rest = b"\r\nHost: localhost\r\n\r\n"
    target = b"/api/user/" + b"p" * (size - len(rest) - len(b"GET /api/user/ HTTP/1.1"))
    return b"GET " + target + b" HTTP/1.1" + rest


def pieces(data: bytes, write: int | None) -> list[bytes]:
    step = write or len(data)
    return [data[i : i + step] for i in range(0, len(data), step)]


SHAPES = [long_header, many_headers, long_line]


@pytest.mark.parametrize("shape", SHAPES)
def test_shapes__are_exactly_the_size_asked(shape: Callable[[int], bytes]) -> None:
    for size in (BOUND, BOUND + 1, 5000):
        assert len(shape(size)) == size


@pytest.mark.parametrize("write", [None, 1000, 100, 1], ids=["one-read", "1000", "100", "1"])
@pytest.mark.parametrize("shape", SHAPES)
def test_head__over_the_bound_is_a_431_however_it_is_read(
    shape: Callable[[int], bytes], write: int | None
) -> None:
    at_bound = Connection()
    at_bound.send(*pieces(shape(BOUND), write))
    assert at_bound.statuses() == [200]
    for size in (BOUND + 1, 5000):
        over = Connection()
        over.send(*pieces(shape(size), write))
        assert over.statuses() == [431]
        assert over.started == 0, "the app saw a head over the bound"
        assert over.transport.eof
        assert json.loads(bytes(over.transport.written).partition(b"\r\n\r\n")[2]) == {
            "message": f"over {BOUND} bytes"
        }


def test_head__a_read_past_the_bound_is_measured_only_when_it_may_hold_too_much() -> None:
    connection = Connection()
    protocol = connection.protocol
    connection.send(long_header(BOUND))
    assert not protocol._measure  # the usual read: one comparison, nothing counted
    connection.send(long_header(BOUND))
    assert not protocol._measure  # the read before ended with its head
    connection.send(long_header(600) + START)  # ...and here the next head begins:
    assert protocol._may_be_head == len(START)  # what follows the last blank line
    connection.send(b"X-Next: " + b"n" * 400 + b"\r\n\r\n")
    assert not protocol._measure  # with what of it came before, within the bound
    connection.send(long_header(600) + START + b"X-Next: " + b"n" * 500)
    connection.send(b"X-More: " + b"n" * 400 + b"\r\n\r\n" + long_header(600))
    assert protocol._measure  # with what of it came before, it may be over the bound
    assert connection.statuses() == [200, 200, 200, 200, 200, 200, 200]


def test_head__a_pipelined_head_is_bounded_on_its_own_and_answered_in_turn() -> None:
    connection = Connection()
    small = START + b"\r\n"
    connection.send(small + small + long_header(BOUND + 1))
    assert connection.statuses() == [200, 200, 431]
    assert connection.started == 2


def test_head__the_start_of_a_pipelined_head_counts_toward_it() -> None:
    connection = Connection()
    big = long_header(BOUND + 1)
    connection.send(START + b"\r\n" + big[:900], big[900:])
    assert connection.statuses() == [200, 431]


def test_head__whitespace_the_parser_skips_counts_in_a_pipelined_head() -> None:
    padded = START + b"X-Padded:" + b" " * (BOUND - len(START) - 14) + b"a\r\n\r\n"
    assert len(padded) == BOUND
    for extra in (b"", b" "):  # at the bound, and one byte past it
        head = padded.replace(b"a\r\n", extra + b"a\r\n")
        for reads in ((START + b"\r\n" + head,), (START + b"\r\n" + head[:600], head[600:])):
            connection = Connection()
            connection.send(*reads)
            assert connection.statuses() == [200, 431 if extra else 200], reads


def test_head__a_body_in_the_same_read_is_not_head() -> None:
    connection = Connection()
    body = b"x" * (BOUND * 4)
    head = b"POST /api/user/lead HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % (
        len(body)
    )
    connection.send(head + body + START + b"\r\n")
    connection.send(START + b"X: " + b"y" * 900 + b"\r\n\r\n")
    assert connection.statuses() == [200, 200, 200]


def test_head__after_the_timeout_it_is_a_408_and_between_requests_it_is_not() -> None:
    connection = Connection()
    connection.send(START + b"\r\n")
    connection.loop.advance(4)  # idle between requests (under the keep-alive): not timed
    connection.send(START)
    connection.loop.advance(9)
    assert connection.statuses() == [200]
    connection.loop.advance(1)
    assert connection.statuses() == [200, 408]
    assert connection.transport.eof
    assert not connection.transport.closed
    connection.loop.advance(2)  # the lingering close
    assert connection.transport.closed


def test_parser__a_head_it_cannot_read_is_a_json_400() -> None:
    connection = Connection()
    connection.send(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    head, _, body = bytes(connection.transport.written).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/json" in head
    assert json.loads(body) == {"message": "Invalid HTTP request received."}


def test_limit_concurrency__the_503_is_json_with_retry_after() -> None:
    first = Connection(limit_concurrency=2)
    Connection(limit_concurrency=2, state=first.state)  # a second connection, idle
    first.send(START + b"\r\n")
    assert bytes(first.transport.written) == busy(2)
    assert first.started == 0
    head, _, body = busy(2).partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head
    assert b"retry-after: 1" in head
    assert json.loads(body)["message"].startswith("The server is busy")


def test_connections__past_the_room_are_answered_503_before_a_byte() -> None:
    state = ServerState()
    held = [Connection(max_connections=2, state=state) for _ in range(2)]
    assert not any(c.transport.written for c in held)
    third = Connection(max_connections=2, state=state)
    assert bytes(third.transport.written) == Guarded.full
    third.send(START + b"\r\n")  # read and dropped
    assert third.started == 0
    assert third.statuses() == [503]


def padded(size: int) -> bytes:
    """A head of `size` bytes, most of it whitespace the parser skips before a value."""
    return START + b"X-Padded:" + b" " * (size - len(START) - 14) + b"a\r\n\r\n"


@pytest.mark.parametrize("write", [None, 1000, 7], ids=["one-read", "1000", "7"])
def test_head__whitespace_the_parser_skips_still_counts(write: int | None) -> None:
    at_bound = Connection()
    at_bound.send(*pieces(padded(BOUND), write))
    assert at_bound.statuses() == [200]
    over = Connection()
    over.send(*pieces(padded(BOUND + 1), write))
    assert over.statuses() == [431]


def test_head__the_end_of_a_head_split_between_reads_is_found_across_them() -> None:
    head = padded(BOUND + 1)
    for cut in range(len(head) - 6, len(head)):  # the reads part inside its last "\r\n\r\n"
        connection = Connection()
        connection.send(head[:cut], head[cut:] + b"x" * BOUND)  # and the next read is big
        assert connection.statuses() == [431], cut
        connection = Connection()
        connection.send(padded(BOUND)[: cut - 1], padded(BOUND)[cut - 1 :] + START[:10] * 200)
        assert connection.statuses()[:1] == [200], cut


CHUNKED = b"POST /api/user/lead HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_body__tiny_chunks_are_no_framing_past_the_bound() -> None:
    connection = Connection()
    connection.send(CHUNKED, *[b"1\r\nx\r\n" * 100] * 10, b"0\r\n\r\n")  # 1,000 one-byte chunks
    assert connection.statuses() == [200]


def test_head__empty_lines_after_a_request_count_toward_the_next_head() -> None:
    for empty, expected in ((400, 431), (150, 200)):  # 800 B or 300 B of them, then 300 B
        connection = Connection()
        connection.send(START + b"\r\n" + b"\r\n" * empty, long_header(300))
        assert connection.statuses() == [200, expected], empty


def test_body__a_chunk_the_parser_cannot_read_is_a_json_400_at_once() -> None:
    connection = Connection()
    head = b"POST /api/user/lead HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
    connection.send(head + b"zz\r\n")  # the app was waiting on the body: it is told it ended
    assert connection.statuses() == [400]
    assert b'{"message": "Invalid HTTP request received."}' in connection.transport.written
    assert connection.transport.eof
