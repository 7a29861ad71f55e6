"""Hostile paths, queries and forwarded clients through real servers: the log stays
one line a request, nothing in it a terminal acts on, and no phone number in it."""

from __future__ import annotations

import signal
import socket

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, clean_env

PHONE = "12025550177"


def raw(server: Server, target: str, *headers: str) -> int:
    """One request as bytes on a socket, its target as given; the status answered."""
    head = [f"GET {target} HTTP/1.1", "Host: localhost", f"Authorization: {AUTH['Authorization']}"]
    request = "\r\n".join([*head, *headers, "Connection: close", "", ""]).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split()[1])


def stopped_log(server: Server) -> str:
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    return server.log()


@pytest.mark.uvicorn_only(
    "a request target with raw control bytes is refused by granian itself (400), before the "
    "app writes an access line"
)
def test_log_escaping__mock_text_lines_stay_one_escaped_line_each(launch: Launch) -> None:
    server = launch()
    raw(server, "/api/user/leads/%1B[2J%0B%E2%80%A8%C2%85")
    raw(server, '/api/user/leads?status=x"%20200%20OK%20"')
    raw(server, "/api/user/leads", 'X-Forwarded-For: 6.6.6.6" - "GET /forged HTTP/1.1" 200 OK')
    raw(server, f"/api/user/leads?phone_number=%2B{PHONE}")
    log = stopped_log(server)
    assert "\x1b" not in log
    assert "\x0b" not in log
    assert "\u2028" not in log
    assert "\x85" not in log
    assert PHONE not in log
    requests = [line for line in log.splitlines() if "/api/user/leads" in line]
    assert len(requests) == 4
    assert all(line.count('"') == 2 for line in requests), requests
    assert any("status=x\\x22" in line for line in requests)
    assert any(line.startswith("INFO:     6.6.6.6\\x22\\x20-") for line in requests)


def test_log_escaping__proxy_lines_and_the_journal_mask_a_phone_in_a_path(
    launch: Launch, upstream: FakeUpstream
) -> None:
    env = clean_env(LEADS_PROXY_MODE="proxy", LEADS_PROXY_UPSTREAM_URL=upstream.url)
    server = launch(env=env)
    raw(server, f"/api/user/lead/by-phone/+{PHONE}")
    raw(server, "/api/user/leads/%1B[2J")
    journal = server.client.get("/_proxy/requests").text
    assert PHONE not in journal
    assert "/api/user/lead/by-phone/+*********77" in journal
    log = stopped_log(server)
    assert PHONE not in log
    assert "\x1b" not in log
    assert "GET /api/user/leads/\\x1B[2J " in log
