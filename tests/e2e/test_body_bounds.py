"""A connection is never held open by a body: one still coming after its answer, one
that stalls, or one that arrives only after the answer was sent (found by a hostile
probe: 55 such sockets held every --limit-concurrency slot, indefinitely)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.support import AUTH, Launch

TIMEOUT = 1  # --header-timeout, seconds: a body must end within it too


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds` (what it sends is read and dropped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


def head(port: int, method: str, path: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("method", "path", "sent", "later"),
    [
        ("GET", "/api/user/leads", b"", b"0123456789"),  # the body after the answer, whole
        ("GET", "/api/user/leads", b"", b"01234"),  # half of it, then nothing
        ("PUT", "/_proxy/scenario", b"{", b""),  # a body that stalls before any answer
    ],
    ids=["after-the-answer", "half-after-the-answer", "stalled"],
)
@pytest.mark.uvicorn_only(
    "a body's time is not bounded: a stalled body holds its connection until the client leaves"
)
def test_body__a_connection_ends_within_the_timeouts_whatever_the_body_does(
    launch: Launch, method: str, path: str, sent: bytes, later: bytes
) -> None:
    server = launch("--header-timeout", str(TIMEOUT))
    length = max(len(sent) + len(later), 10)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head(server.port, method, path, length) + sent)
        time.sleep(0.5)
        if later:
            sock.sendall(later)
        # uvicorn's keep-alive (5 s) or the body's bound (1 s): well within 10 s
        assert closed_within(sock, 10.0)
    assert "Traceback" not in server.log()


@pytest.mark.uvicorn_only(
    "an answer sent before the body is read closes the connection at once; a client still "
    "sending may get a reset, not the answer"
)
def test_body__a_refused_body_that_goes_on_coming_ends_the_connection(launch: Launch) -> None:
    server = launch("--header-timeout", str(TIMEOUT))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head(server.port, "PUT", "/_proxy/scenario", 100_000) + b" " * 70_000)
        time.sleep(0.5)
        sock.sendall(b" " * 30_000)
        assert closed_within(sock, 10.0)


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.uvicorn_only(
    "a chunked body's trailers past its buffer end the request with granian's own 499 and no body"
)
def test_body__endless_trailers_are_a_431_and_cost_nothing(launch: Launch) -> None:
    server = launch("--max-header-bytes", "8192")
    before = rss_mib(server.process.pid)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/user/lead HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
        )
        line = b"X-T: " + b"a" * 1000 + b"\r\n"
        answer = b""
        try:
            for _ in range(20_000):  # 20 MB of trailer lines, unless refused first
                sock.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"framing and trailers are over 8192 bytes" in answer
    assert rss_mib(server.process.pid) - before < 20
    assert server.client.get("/_proxy/health").status_code == 200
    assert "Traceback" not in server.log()


def read_answer(sock: socket.socket) -> bytes:
    """One answer with a Content-Length body, read whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head_part, _, body = data.partition(b"\r\n\r\n")
    length = int(head_part.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head_part


def test_body__a_body_read_in_parts_does_not_time_the_next_request_on_the_connection(
    launch: Launch,
) -> None:
    # Found by schemathesis: a body whose last part came while the app still awaited it
    # left its start behind, and the next request on the connection, still being
    # answered past --header-timeout from that start, got a 408 it had not earned.
    server = launch("--header-timeout", str(TIMEOUT))
    body = b'{"phone_number": "+12015550123", "campaign_id": 1}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head(server.port, "POST", "/api/user/lead", len(body)) + body[:10])
        time.sleep(0.2)
        sock.sendall(body[10:])
        assert read_answer(sock).startswith(b"HTTP/1.1 ")
        sock.sendall(
            f"GET /api/user/leads HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Authorization: {AUTH['Authorization']}\r\nPrefer: delay=1500\r\n\r\n".encode()
        )
        assert read_answer(sock).startswith(b"HTTP/1.1 200 ")
