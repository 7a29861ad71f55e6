"""Ready listings written by the protocol (`edge.ready`), through real servers and raw
sockets: the very bytes the ASGI path sends for the same request, and pipelined
requests of both kinds answered in the order they came."""

from __future__ import annotations

import re
import socket

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import Launch, Server, clean_env

KEY = b"Authorization: Bearer 1|ready-key\r\n"
# A zero-length body sends a GET down the ASGI path; its answer is the same.
BY_ASGI = b"Content-Length: 0\r\n"
DATE = re.compile(rb"date: [^\r]*\r\n")


def exchange(server: Server, data: bytes, answers: int = 1) -> bytes:
    """Send `data` on one connection; what came back once `answers` answers are whole
    (the last one's body too, unless it answers a HEAD)."""
    bodiless = data.rpartition(b"\r\n\r\n")[0].rpartition(b"\r\n\r\n")[2].startswith(b"HEAD")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        got = b""
        while not _whole(got, answers, bodiless=bodiless):
            chunk = sock.recv(65536)
            assert chunk, f"closed after {got!r}"
            got += chunk
        return got


def _whole(got: bytes, answers: int, *, bodiless: bool) -> bool:
    parts = got.split(b"HTTP/1.1 ")[1:]
    if len(parts) < answers or b"\r\n\r\n" not in parts[-1]:
        return False
    head, _, body = parts[-1].partition(b"\r\n\r\n")
    length = re.search(rb"content-length: (\d+)", head)
    return length is None or bodiless or len(body) >= int(length.group(1))


def request(target: bytes, *extra: bytes, method: bytes = b"GET") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", KEY, *extra]
    return b"".join(lines) + b"\r\n"


def same_bytes(server: Server, target: bytes, *extra: bytes) -> bytes:
    """The answer from ready bytes, checked byte for byte (less the date) against the
    ASGI path's; returned."""
    exchange(server, request(target, *extra))  # answered once: ready from now on
    ready = exchange(server, request(target, *extra))
    by_asgi = exchange(server, request(target, *extra, BY_ASGI))
    assert DATE.sub(b"", ready) == DATE.sub(b"", by_asgi)
    head = exchange(server, request(target, *extra, method=b"HEAD"))
    assert DATE.sub(b"", head) == DATE.sub(b"", ready).partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    return ready


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        (b"/leads", ()),
        (b"/api/user/leads/", ()),
        (b"/api/user/leads?status=completed&per_page=2", ()),
        (b"/leads", (b"Accept-Encoding: gzip\r\n",)),
        (b"/leads", (b"Origin: http://localhost:5173\r\n",)),
        (b"/leads", (b"If-None-Match: *\r\n",)),
    ],
)
def test_ready__mock_answers_are_the_bytes_of_the_asgi_path(
    launch: Launch, target: bytes, extra: tuple[bytes, ...]
) -> None:
    server = launch("--cors-origins", "http://localhost:5173")
    answer = same_bytes(server, target, *extra)
    assert answer.startswith((b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 304 Not Modified\r\n"))


def test_ready__a_proxy_hit_is_the_bytes_of_the_asgi_path(
    launch: Launch, upstream: FakeUpstream
) -> None:
    server = launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    for target in (b"/leads", b"/api/user/leads?page=2"):
        answer = same_bytes(server, target)
        assert b"x-cache: HIT" in answer
    assert upstream.count() == 2  # one fill per query; every other answer a hit


def test_ready__pipelined_requests_of_both_kinds_come_back_in_order(server: Server) -> None:
    exchange(server, request(b"/leads"))
    asked = [
        request(b"/leads"),
        request(b"/api/user/campaigns"),
        request(b"/leads", method=b"HEAD"),
        request(b"/api/user/leads/"),
        request(b"/_proxy/health"),
        request(b"/leads"),
    ]
    got = exchange(server, b"".join(asked), answers=len(asked))
    answers = got.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == len(asked)
    bodies = [answer.partition(b"\r\n\r\n")[2] for answer in answers]
    assert [body[:2] for body in bodies] == [b"[{", b"[{", b"", b"[{", b'{"', b"[{"]
    assert bodies[0] == bodies[3] == bodies[5]
    assert b'"campaign"' not in bodies[1][:20]  # the campaigns, not the listing
    assert bodies[1] != bodies[0]
