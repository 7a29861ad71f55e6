"""The bounds below the app, through a real server and raw sockets: a request head
over `--max-header-bytes` is a 431 however it is split, connections past what the
process can hold open are a JSON 503 rather than a reset, and so are requests past
`--limit-concurrency`."""

from __future__ import annotations

import asyncio
import json
import re
import select
import socket
import sys
from collections.abc import Callable

import httpx
import pytest

from leads_proxy.edge.startup import RESERVED_FILES
from leads_proxy.proxy.upstream import UPSTREAM_CONNECTIONS
from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, clean_env, eventually

BOUND = 8192
START = (
    b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n"
    + f"Authorization: {AUTH['Authorization']}\r\n".encode()
    + b"Connection: close\r\n"
)
Shape = Callable[[int], bytes]


def long_header(size: int) -> bytes:
    """A head of exactly `size` bytes, most of it one header line."""
    filler = size - len(START) - len(b"X-Long: \r\n\r\n")
    return START + b"X-Long: " + b"a" * filler + b"\r\n\r\n"


def many_headers(size: int) -> bytes:
    """A head of exactly `size` bytes, most of it headers of 100 bytes each."""
    lines = []
    left = size - len(START) - 2
    index = 0
    while left >= 200:
        lines.append(f"X-Many-{index:05}: ".encode().ljust(98, b"m") + b"\r\n")
        left -= 100
        index += 1
    lines.append(b"X-Last: ".ljust(left - 2, b"l") + b"\r\n")
    return START + b"".join(lines) + b"\r\n"


def long_line(size: int) -> bytes:
    """A head of exactly `size` bytes, most of it the request line (a long path)."""
    rest = START.partition(b" HTTP/1.1")[2]
    filler = size - len(rest) - len(b"GET /api/user/leads/ HTTP/1.1\r\n")
    return b"GET /api/user/leads/" + b"p" * filler + b" HTTP/1.1" + rest + b"\r\n"


def padded_header(size: int) -> bytes:
    """A head of exactly `size` bytes, most of it whitespace the parser skips."""
    filler = size - len(START) - len(b"X-Padded:a\r\n\r\n")
    return START + b"X-Padded:" + b" " * filler + b"a\r\n\r\n"


def exchange(server: Server, data: bytes, *, write: int | None = None) -> tuple[int, bytes, bytes]:
    """Send `data` in one write (or in writes of `write` bytes), then read until the
    server closes: the status, the head and the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pieces = (
            [data] if write is None else [data[i : i + write] for i in range(0, len(data), write)]
        )
        try:
            for piece in pieces:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the last write: the answer is still there to read
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.lower(), body


def assert_too_large(answer: tuple[int, bytes, bytes], bound: int) -> None:
    status, head, body = answer
    assert status == 431, head
    assert b"content-type: application/json" in head
    assert b"connection: close" in head
    assert json.loads(body) == {"message": f"The request line and headers are over {bound} bytes."}


@pytest.mark.parametrize("shape", [long_header, many_headers, long_line, padded_header])
def test_shapes__heads_are_exactly_the_size_they_are_built_to_be(shape: Shape) -> None:
    for size in (BOUND, BOUND + 1, 100_000):
        head = shape(size)
        assert len(head) == size
        assert head.endswith(b"\r\n\r\n")
        assert head.count(b"\r\n\r\n") == 1


@pytest.mark.parametrize(
    ("shape", "within"),
    [(long_header, 200), (many_headers, 200), (long_line, 405), (padded_header, 200)],
    ids=["one-long-header", "many-headers", "long-request-line", "padded-header"],
)
@pytest.mark.uvicorn_only(
    "a head over its read buffer gets granian's own 431, with an empty body, not the API's JSON"
)
def test_head__over_the_bound_is_a_431_however_it_is_split(
    launch: Launch, shape: Shape, within: int
) -> None:
    server = launch("--max-header-bytes", str(BOUND))
    for write in (None, 1024, 100):  # one write, and writes smaller than the head
        assert_too_large(exchange(server, shape(BOUND + 1), write=write), BOUND)
        assert_too_large(exchange(server, shape(100_000), write=write), BOUND)
        status, head, body = exchange(server, shape(BOUND), write=write)  # at the bound
        assert status == within, head
        assert b"content-type: application/json" in head
        json.loads(body)
    assert "Traceback" not in server.log()


@pytest.mark.uvicorn_only("a head of more than 100 header lines is a 431 whatever its size")
def test_head__the_default_bound_holds_for_800_headers_in_one_write(launch: Launch) -> None:
    server = launch()
    head = many_headers(80_000)  # about 800 headers of 100 bytes
    assert head.count(b"\r\n") > 790
    assert_too_large(exchange(server, head), 64 * 1024)
    assert exchange(server, many_headers(64 * 1024))[0] == 200


@pytest.mark.parametrize(
    ("shape", "within"),
    [
        (long_header, b"200 "),
        (many_headers, b"200 "),
        (long_line, b"405 "),  # a lead's path: PUT and DELETE only
        (padded_header, b"200 "),
    ],
    ids=["one-long-header", "many-headers", "long-request-line", "padded-header"],
)
@pytest.mark.uvicorn_only(
    "a head over its read buffer gets granian's own 431, with an empty body, not the API's JSON"
)
def test_head__a_pipelined_head_is_bounded_on_its_own(
    launch: Launch, shape: Shape, within: bytes
) -> None:
    # The second head begins in the read in which the first request ends, however
    # the parser reads it (whitespace it skips counts too), in one write or split.
    server = launch("--max-header-bytes", str(BOUND))
    small = START.replace(b"Connection: close\r\n", b"") + b"\r\n"
    for write in (None, 3000):
        for size, expected in ((BOUND + 1, b"431 "), (BOUND * 3, b"431 "), (BOUND, within)):
            status, _, body = exchange(server, small * 3 + shape(size), write=write)
            assert status == 200
            second = body.rpartition(b"HTTP/1.1 ")[2]  # the answer to the last request
            assert second.startswith(expected), (size, write, body[-400:])
            if expected == b"431 ":
                assert second.endswith(b'"The request line and headers are over 8192 bytes."}')
    assert "Traceback" not in server.log()


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        raise AssertionError(f"reset after {data!r}") from None
    return data


@pytest.mark.uvicorn_only(
    "--limit-concurrency is granian's backpressure: requests past it wait their turn, none is"
    " refused"
)
def test_connections__past_limit_concurrency_the_503_is_json(launch: Launch) -> None:
    server = launch("--limit-concurrency", "4")
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(6)]
    try:
        eventually(lambda: httpx.get(f"{server.url}/_proxy/health").status_code == 503)
        answer = httpx.get(f"{server.url}/api/user/leads", headers=AUTH)
    finally:
        for sock in idle:
            sock.close()
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert answer.headers["retry-after"] == "1"
    message = answer.json()["message"]
    assert message.startswith("The server is busy"), message
    assert "4 connections" in message
    eventually(lambda: httpx.get(f"{server.url}/_proxy/health").status_code == 200)


# Started as `leads-proxy serve`, with its soft AND hard limit on open files set
# low first, so that the server cannot raise its way out of the case.
FILES = 128


def low_files(files: int) -> tuple[str, ...]:
    return (
        sys.executable,
        "-c",
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({files}, {files})); "
        "os.execv(sys.argv[1], sys.argv[1:])",
    )


LOW_FILES = low_files(FILES)


@pytest.mark.uvicorn_only(
    "granian bounds no connections by the open-files limit: past it, new connections wait in "
    "the backlog"
)
def test_connections__past_the_open_files_limit_get_a_json_503_not_a_reset(
    launch: Launch,
) -> None:
    server = launch("--header-timeout", "60", wrapper=LOW_FILES)
    said = re.search(
        rf"open files: {FILES} \(the hard limit\); up to (\d+) connections", server.log()
    )
    assert said, server.log()
    room = int(said[1])
    assert FILES / 4 < room < FILES
    half = b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n"  # ...and no more
    # More past the room than the files kept back (RESERVED_FILES): a refused
    # connection must give its file back at once, or the process runs out of files
    # and the event loop resets what waits to be accepted.
    past = RESERVED_FILES + 40
    held: list[socket.socket] = []
    try:
        for _ in range(room + past):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(half)
            held.append(sock)
        # Accepted in order: the last ones are past what the process can hold. Each is
        # answered at once (no reset, no wait for a slot), and the first ones are not.
        refused = [read_until_closed(sock) for sock in held[-past:]]
        ready, _, _ = select.select(held[:-past], [], [], 0)
        refused += [read_until_closed(sock) for sock in ready]
        # The test's own client holds a connection, until it times out.
        assert room - 1 <= len(held) - len(refused) <= room
    finally:
        for sock in held:
            sock.close()
    for data in refused:
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), data
        assert b"content-type: application/json" in head.lower()
        assert b"retry-after: 1" in head.lower()
        assert json.loads(body)["message"].startswith("The server is busy")
    eventually(lambda: httpx.get(f"{server.url}/api/user/leads", headers=AUTH).status_code == 200)
    assert "Traceback" not in server.log()


async def _ask(port: int, index: int) -> bytes:
    """One listing request with a key of its own; what came back, or b"RESET" when the
    connection was reset before a whole answer came. (A turned-away connection is
    closed at once: a request that reaches it after its 503 has it reset then.)"""
    answer = b""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionResetError:
        return b"RESET"
    try:  # closed however it ends (a reset one too: else it warns, unclosed, at collection)
        writer.write(
            b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n"
            b"Authorization: Bearer 1|burst-%d\r\nConnection: close\r\n\r\n" % index
        )
        while chunk := await asyncio.wait_for(reader.read(65536), timeout=30):
            answer += chunk
    except (ConnectionResetError, BrokenPipeError):
        head, _, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head.lower())
        if length is None or len(body) < int(length[1]):
            return b"RESET"
    finally:
        writer.close()
    return answer


@pytest.mark.uvicorn_only(
    "granian bounds no connections by the open-files limit, so none are kept back for the upstream"
)
def test_connections__proxy_mode_keeps_files_back_for_its_upstream(
    launch: Launch, upstream: FakeUpstream
) -> None:
    # Every request a miss that holds an upstream connection for a while: the
    # files those take are kept back, so clients past the room get the JSON 503.
    files = 384
    server = launch("--mode", "proxy", "--upstream-url", upstream.url,
                    wrapper=low_files(files), env=clean_env())  # fmt: skip
    said = re.search(r"up to (\d+) connections", server.log())
    assert said, server.log()
    assert 100 < int(said[1]) < files - UPSTREAM_CONNECTIONS

    async def burst() -> list[bytes]:
        return await asyncio.gather(*(_ask(server.port, index) for index in range(300)))

    with upstream.behaving(delay=1.0):
        answers = asyncio.run(burst())
    statuses = [answer.split(b" ", 2)[1] if answer != b"RESET" else b"RESET" for answer in answers]
    assert b"RESET" not in statuses, statuses.count(b"RESET")
    assert set(statuses) <= {b"200", b"503"}, set(statuses)
    assert statuses.count(b"200") > 0
    assert "Traceback" not in server.log()
