"""Which hosts a server answers (`--allowed-hosts`), through a real server: a name
that is not its own gets a JSON 421 before anything runs (DNS rebinding, seen in
Chromium), a Host that names no host a 400, and an absolute-form request target
stands for the Host header."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import CHROMIUM
from tests.support import AUTH, Launch, Server

REBOUND = "rebind.test"  # a name an attacker controls, resolving to 127.0.0.1
KEY = f"Authorization: {AUTH['Authorization']}\r\n"


def raw(server: Server, head: bytes) -> tuple[int, bytes, bytes]:
    """One request as bytes on a socket: the status, the head and the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    top, _, body = answer.partition(b"\r\n\r\n")
    return int(top.split()[1]), top.lower(), body


def get(server: Server, path: str, host: str) -> tuple[int, bytes, bytes]:
    return raw(
        server,
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {AUTH['Authorization']}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:8000", "127.0.0.1", "[::1]:9", "10.1.2.3:80", "app.localhost"],
)
def test_hosts__loopback_names_and_addresses_are_answered(server: Server, host: str) -> None:
    status, _, body = get(server, "/api/user/leads", host)
    assert status == 200, body


@pytest.mark.parametrize(
    "path", ["/api/user/leads", "/leads", "/_proxy/requests", "/_proxy/status", "/docs"]
)
def test_hosts__another_name_gets_a_421_in_json(server: Server, path: str) -> None:
    status, head, body = get(server, path, f"{REBOUND}:{server.port}")
    assert status == 421
    assert b"content-type: application/json" in head
    assert json.loads(body)["message"].startswith("This server does not answer for the host")


def test_hosts__a_refused_host_changes_nothing(launch: Launch) -> None:
    server = launch()
    scenario = b'{"prefer": "code=503"}'
    status, _, _ = raw(
        server,
        b"PUT /_proxy/scenario HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (REBOUND.encode(), len(scenario), scenario),
    )
    assert status == 421
    assert server.client.get("/api/user/leads", headers=AUTH).status_code == 200  # no 503 set


@pytest.mark.parametrize(
    "head",
    [
        b"Host: localhost\r\nHost: localhost\r\n",  # two (RFC 9112 3.2: a 400)
        b"Host: \r\n",
        b'Host: a","total":9,"x":"\r\n',
        b"Host: localhost:0\r\n",
        b"Host: [zz::1]\r\n",
    ],
    ids=["two", "empty", "json", "port-0", "bad-v6"],
)
def test_hosts__a_host_header_that_names_no_host_is_a_400(server: Server, head: bytes) -> None:
    request = b"GET /leads HTTP/1.1\r\n" + head + b"Connection: close\r\n\r\n"
    status, top, body = raw(server, request)
    assert status == 400, body
    assert b"content-type: application/json" in top
    assert json.loads(body)["message"].startswith("The Host header does not name a host")


def test_hosts__allowed_names_suffixes_and_any(launch: Launch) -> None:
    named = launch("--allowed-hosts", "api.test, .corp.test")
    for host, expected in [
        ("api.test", 200),
        ("corp.test", 200),
        ("x.corp.test:8000", 200),
        ("notcorp.test", 421),
        ("api.test.evil", 421),
        ("localhost", 200),
    ]:
        assert get(named, "/leads", host)[0] == expected, host
    anyone = launch("--allowed-hosts", "*")
    assert get(anyone, "/leads", REBOUND)[0] == 200
    assert get(anyone, "/leads", "a b")[0] == 400  # still a host, or nothing


def test_hosts__a_bad_list_is_refused_at_start(launch: Launch) -> None:
    with pytest.raises(AssertionError, match="allowed-hosts"):
        launch("--allowed-hosts", "a/b")


@pytest.mark.uvicorn_only(
    "an absolute-form target's host is not handed to the app: the Host header is the one checked"
)
def test_hosts__an_absolute_form_target_stands_for_the_host_header(server: Server) -> None:
    target = f"http://localhost:{server.port}/api/user/leads?per_page=1&page=2"
    status, _, body = raw(
        server,
        f"GET {target} HTTP/1.1\r\nHost: {REBOUND}\r\n{KEY}Connection: close\r\n\r\n".encode(),
    )
    assert status == 200, body
    assert json.loads(body)["prev_page_url"].startswith(f"http://localhost:{server.port}/")
    status, _, _ = raw(
        server,
        b"GET http://rebind.test/api/user/leads HTTP/1.1\r\nHost: localhost\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status == 421
    status, _, _ = raw(server, b"GET ftp://localhost/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status == 400


def test_hosts__a_proxys_wss_means_https_page_urls(server: Server) -> None:
    status, _, body = raw(
        server,
        b"GET /leads?per_page=1&page=2 HTTP/1.1\r\nHost: localhost\r\n"
        + KEY.encode()
        + b"X-Forwarded-Proto: wss\r\nConnection: close\r\n\r\n",
    )
    assert status == 200, body
    assert json.loads(body)["prev_page_url"].startswith("https://localhost/leads")


@pytest.fixture
def rebinding_browser() -> Iterator[Browser]:
    """Chromium in which rebind.test resolves to 127.0.0.1, as after DNS rebinding."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"],
        )
        yield browser
        browser.close()


def test_hosts__a_rebinding_page_reads_nothing_and_sets_nothing(
    launch: Launch, rebinding_browser: Browser
) -> None:
    server = launch()
    page = rebinding_browser.new_page()
    origin = f"http://{REBOUND}:{server.port}"
    page.goto(f"{origin}/_proxy/health")  # the attacker's page, now on the server's address
    seen = page.evaluate(
        """async () => {
            const journal = await fetch('/_proxy/requests');
            const set = await fetch('/_proxy/scenario', {method: 'PUT',
                headers: {'Content-Type': 'application/json'}, body: '{"prefer": "code=503"}'});
            return [journal.status, await journal.text(), set.status];
        }"""
    )
    assert seen[0] == 421
    assert "This server does not answer" in seen[1]
    assert seen[2] == 421
    assert server.client.get("/api/user/leads", headers=AUTH).status_code == 200


def test_hosts__a_ready_answer_is_the_schemes_own(launch: Launch) -> None:
    server = launch()
    request = (
        b"GET /leads?per_page=1&page=2 HTTP/1.1\r\nHost: localhost\r\n"
        + KEY.encode()
        + b"%sConnection: close\r\n\r\n"
    )
    for proto, scheme in ((b"X-Forwarded-Proto: wss\r\n", "https"), (b"", "http")) * 2:
        status, _, body = raw(server, request % proto)
        assert status == 200, body
        assert json.loads(body)["prev_page_url"].startswith(f"{scheme}://localhost/"), proto


@pytest.mark.uvicorn_only("an HTTP/1.0 request without a Host header is a 400")
def test_hosts__the_edges_of_the_rule(server: Server) -> None:
    # Whitespace around the value is no part of it, in page URLs either.
    status, _, body = get(server, "/leads?per_page=1&page=2", "localhost\t")
    assert status == 200, body
    assert json.loads(body)["prev_page_url"].startswith("http://localhost/leads"), body
    # A name's trailing dot (its fully qualified form) names the same host.
    assert get(server, "/leads", "localhost.")[0] == 200
    assert get(server, "/leads", "127.0.0.1.")[0] == 200  # the address, dot dropped
    # Only HTTP/1.0 may come without a Host.
    for version, expected in ((b"1.1", 400), (b"1.0", 200)):
        request = b"GET /leads HTTP/%s\r\n%sConnection: close\r\n\r\n" % (version, KEY.encode())
        assert raw(server, request)[0] == expected, version
    # The scheme of an absolute-form target is case-insensitive.
    target = f"HTTP://localhost:{server.port}/leads".encode()
    request = b"GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
    assert raw(server, request % (target, KEY.encode()))[0] == 200
