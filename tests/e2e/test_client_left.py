"""A client that hangs up halfway through its body: no traceback, no 500, and the
server goes on serving (found by a hostile probe: each such request logged a
60-line starlette.requests.ClientDisconnect traceback and a 500)."""

from __future__ import annotations

import socket

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, clean_env, eventually

TOKEN = "client-left-admin-token-1"


def hang_up_midway(server: Server, method: str, path: str, authorization: str) -> None:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode() + b'{"api')


@pytest.mark.parametrize(
    ("mode", "sent"),
    [
        ("mock", ("PUT", "/_proxy/scenario", True)),
        ("proxy", ("DELETE", "/_proxy/cache", True)),
        ("proxy", ("POST", "/api/user/lead", False)),
    ],
)
def test_client_left__midway_through_a_body_is_a_499_line_and_no_traceback(
    launch: Launch, upstream: FakeUpstream, mode: str, sent: tuple[str, str, bool]
) -> None:
    method, path, admin = sent
    server = launch(
        "--mode", mode, "--upstream-url", upstream.url,
        env=clean_env(LEADS_PROXY_ADMIN_TOKEN=TOKEN),
    )  # fmt: skip
    authorization = f"Bearer {TOKEN}" if admin else AUTH["Authorization"]
    for _ in range(3):
        hang_up_midway(server, method, path, authorization)
    eventually(lambda: server.log().count(f'"{method} {path} HTTP/1.1" 499') == 3)
    log = server.log()
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log
    assert server.client.get("/_proxy/health").status_code == 200
