"""Proxy mode at its edges, through a real server: odd Retry-After values, dripped
bodies, hostile headers and paths, bodies on HEAD. Each answer is a JSON error or
the right answer; none is a 500 or a traceback."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.fake_upstream import ENCODED_BODY, FakeUpstream
from tests.support import Launch, Server, clean_env, eventually

A = {"Authorization": "Bearer 1|alpha-secret-key-0001"}
B = {"Authorization": "Bearer 2|bravo-secret-key-0002"}
StartProxy = Callable[..., Server]


@pytest.fixture
def start_proxy(launch: Launch, upstream: FakeUpstream) -> StartProxy:
    def start(*args: str) -> Server:
        return launch("--mode", "proxy", "--upstream-url", upstream.url, *args, env=clean_env())

    return start


def raw_request(server: Server, head: bytes) -> tuple[int, dict[str, object]]:
    """Send bytes as they are (no client tidies them up); the status and JSON body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + b"Host: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower(), data
    return int(status_line.split()[1]), json.loads(body)


def assert_no_traceback(server: Server) -> None:
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(
    ("retry_after", "args", "told"),
    [
        ("\u00b2", (), 10),  # unreadable: the default wait
        ("-1", (), 10),
        ("99999999999999999999", (), 3600),  # capped by --max-cooldown
        ("Fri, 31 Dec 9999 23:59:59 GMT", ("--max-cooldown", "5"), 5),
        ("7", ("--max-cooldown", "5"), 5),
    ],
    ids=["superscript-two", "negative", "huge", "year-9999", "over-the-cap"],
)
def test_retry_after__read_with_care_and_capped(
    start_proxy: StartProxy,
    upstream: FakeUpstream,
    retry_after: str,
    args: tuple[str, ...],
    told: int,
) -> None:
    proxy = start_proxy(*args)
    with upstream.behaving(mode="ratelimit", retry_after=retry_after):
        answer = proxy.client.get("/api/user/leads", headers=A)
    assert answer.status_code == 429
    assert answer.headers["content-type"] == "application/json"
    assert told - 1 <= int(answer.headers["retry-after"]) <= told
    assert_no_traceback(proxy)


def test_upstream_timeout__is_one_deadline_for_a_dripped_body(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--upstream-timeout", "1")
    with upstream.behaving(drip=0.2):  # a byte every 0.2 s: every read is quick
        started = time.monotonic()
        answer = proxy.client.get("/api/user/leads", headers=A)
        took = time.monotonic() - started
    assert answer.status_code == 504
    assert took < 2.5, took
    assert answer.json()["message"].startswith("The upstream did not answer within 1 s")


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /api/user/leads HTTP/1.1\r\nAuthorization: Bearer caf\xc3\xa9\r\n", 401),
        (
            b"GET /api/user/leads HTTP/1.1\r\nAuthorization: Bearer 1|a\r\n"
            b"Authorization: Bearer 2|b\r\n",
            400,
        ),
        (b"GET /api/user/leads HTTP/1.1\r\nAuthorization: Bearer 1|a\r\nAccept: \xff\r\n", 400),
        (b"POST /api/user/lead HTTP/1.1\r\nAuthorization: Bearer 1|a\r\nX-Note: \xe9\r\n", 400),
        (b"GET /api/user/x%00y HTTP/1.1\r\nAuthorization: Bearer 1|a\r\n", 400),
        (b"GET /api/%2e%2e/x HTTP/1.1\r\nAuthorization: Bearer 1|a\r\n", 400),
        (b"GET /api/../x HTTP/1.1\r\nAuthorization: Bearer 1|a\r\n", 400),
        (b"GET /api/user/./x HTTP/1.1\r\nAuthorization: Bearer 1|a\r\n", 400),
    ],
    ids=[
        "non-ascii-key",
        "two-keys",
        "non-ascii-accept",
        "non-ascii-passthrough-header",
        "nul-in-path",
        "encoded-dot-dot",
        "dot-dot",
        "dot",
    ],
)
def test_requests__hostile_headers_and_paths_get_a_json_error_and_reach_nobody(
    start_proxy: StartProxy, upstream: FakeUpstream, head: bytes, status: int
) -> None:
    proxy = start_proxy()
    answered, body = raw_request(proxy, head)
    assert answered == status
    message = body.get("message")
    assert isinstance(message, str)
    assert message[0].isupper()
    assert upstream.count() == 0
    assert_no_traceback(proxy)


def test_passthrough__the_path_goes_upstream_as_the_client_wrote_it(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    answer = proxy.client.get("/api/user/a%3Fb%23c", params={"q": "1"}, headers=A)
    assert answer.status_code == 200
    assert upstream.seen[-1].path == "/api/user/a%3Fb%23c"
    assert upstream.seen[-1].query == "q=1"


def test_passthrough__a_head_answer_keeps_the_upstreams_content_length(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    answer = proxy.client.head("/api/user/profile", headers=A)
    assert answer.status_code == 200
    assert answer.content == b""
    # The test upstream answers HEAD with the length its GET body would have.
    assert int(answer.headers["content-length"]) > 100, answer.headers


def test_passthrough__a_body_on_a_head_answer_never_reaches_the_next_request(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    with upstream.behaving(head_body=True):
        assert proxy.client.head("/api/user/profile", headers=A).status_code == 200
        for _ in range(3):
            answer = proxy.client.get("/api/user/leads", headers=B)
            assert answer.status_code == 200, answer.text
        assert upstream.count(B["Authorization"]) == 1


def test_passthrough__without_a_key_a_failure_is_a_sentence(
    launch: Launch,
) -> None:
    nowhere = "http://127.0.0.1:9/api"  # discard port: nothing listens
    proxy = launch("--mode", "proxy", "--upstream-url", nowhere, env=clean_env())
    answer = proxy.client.get("/api/user/leads")
    assert answer.status_code == 502
    assert answer.json()["message"] == "The upstream refused the connection."


def test_upstream__a_name_that_does_not_resolve_is_said_so(launch: Launch) -> None:
    proxy = launch(
        "--mode", "proxy", "--upstream-url", "http://no-such-host.invalid/api",
        "--upstream-timeout", "5", env=clean_env(),
    )  # fmt: skip
    answer = proxy.client.get("/api/user/leads", headers=A)
    assert answer.status_code == 502
    assert answer.json()["message"].startswith("The upstream's host name could not be resolved")


@pytest.mark.parametrize(
    "body",
    # nested: 4,000 deep, within the 64 KiB a body may have (past that it is a 413)
    [b'{"api_key": ' * 4_000 + b"1" + b"}" * 4_000, b'{"api_key": "\xff\xfe"}', b"[1, 2]"],
    ids=["nested", "not-utf-8", "not-an-object"],
)
def test_purge__a_body_it_cannot_read_is_a_422(launch: Launch, body: bytes) -> None:
    proxy = launch(
        "--mode", "proxy", env=clean_env(LEADS_PROXY_ADMIN_TOKEN="admin-token-123"),
    )  # fmt: skip
    answer = proxy.client.request(
        "DELETE", "/_proxy/cache", content=body, headers={"Authorization": "Bearer admin-token-123"}
    )
    assert answer.status_code == 422
    assert "message" in answer.json()
    assert_no_traceback(proxy)


def test_query__over_4_kib_is_a_414_in_proxy_mode_too(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    long = "status=" + "x" * 5000
    for path in (f"/api/user/leads?{long}", f"/api/user/other?{long}"):
        answer = proxy.client.get(path, headers=A)
        assert answer.status_code == 414
        assert answer.json()["message"].startswith("The query string is too long")
    assert upstream.count() == 0


def test_settings__record_only_flags_outside_record_mode_say_they_do_nothing(
    launch: Launch,
) -> None:
    server = launch("--anonymize", "--max-recordings", "5")
    log = server.log()
    assert "--anonymize does nothing in mock mode" in log
    assert "--max-recordings does nothing in mock mode" in log
    assert "--record-as-default" not in log


def test_mock__a_large_generated_set_never_holds_up_a_health_check(launch: Launch) -> None:
    # Measured against the generation itself: were it made on the event loop, a
    # health check sent while it runs would wait for most of it.
    server = launch()
    took: list[float] = []

    def heavy() -> None:
        for seed in range(3):  # each a new set of 10,000 leads to make
            prefer = {**A, "Prefer": f"dynamic=true, count=10000, seed={seed}"}
            started = time.monotonic()
            answer = server.client.get("/api/user/leads", headers=prefer, timeout=60)
            assert answer.status_code == 200
            took.append(time.monotonic() - started)

    worker = threading.Thread(target=heavy)
    worker.start()
    waits: list[float] = []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        while worker.is_alive():
            started = time.monotonic()
            assert client.get("/_proxy/health").status_code == 200
            waits.append(time.monotonic() - started)
    worker.join()
    assert len(took) == 3
    assert len(waits) >= 10, "health checks were not answered while the sets were made"
    assert max(waits) < min(took) / 3, f"a health check waited {max(waits):.3f} s of {took}"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_passthrough__a_body_over_max_body_bytes_is_a_413_and_not_sent(
    start_proxy: StartProxy, upstream: FakeUpstream, chunked: bool
) -> None:
    proxy = start_proxy("--max-body-bytes", "1000")
    small = proxy.client.post("/api/user/lead", headers=A, content=b"x" * 1000)
    assert small.status_code == 200
    big: bytes | object = b"x" * 1001
    if chunked:
        big = iter([b"x" * 600, b"x" * 401])  # no Content-Length: counted as it comes
    answer = proxy.client.post("/api/user/lead", headers=A, content=big)  # type: ignore[arg-type]
    assert answer.status_code == 413
    assert "over 1000 bytes" in answer.json()["message"]
    assert len(upstream.seen) == 1  # only the small one went on


def sockets_of(pid: int) -> set[int]:
    """The inodes of the sockets a process holds open (Linux's /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed since the listing
            target = str(fd.readlink())
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def unread_in_accepted(server: Server, before: set[int]) -> list[int]:
    """For each connection the server accepted since `before` was taken: the bytes its
    clients sent that the server has not read yet (/proc/net/tcp's rx_queue)."""
    accepted = sockets_of(server.process.pid) - before
    port = f":{server.port:04X}"
    unread = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(port) and int(fields[9]) in accepted:
            unread.append(int(fields[4].split(":")[1], 16))
    return unread


@pytest.mark.uvicorn_only(
    "--limit-concurrency is granian's backpressure: requests past it wait their turn, none is"
    " refused"
)
def test_connections__past_limit_concurrency_new_requests_are_refused_not_queued(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy("--limit-concurrency", "4")
    before = sockets_of(proxy.process.pid)
    idle = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(6)]
    try:
        eventually(lambda: len(unread_in_accepted(proxy, before)) == 6)  # all accepted
        answer = httpx.get(f"{proxy.url}/_proxy/health", timeout=5)
        assert answer.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    eventually(lambda: httpx.get(f"{proxy.url}/_proxy/health").status_code == 200)


def test_passthrough__a_body_goes_on_in_its_content_encoding_with_its_header(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    with (
        upstream.behaving(encoding="br"),
        proxy.client.stream(
            "GET", "/api/user/other", headers={**A, "Accept-Encoding": "br"}
        ) as answer,
    ):
        raw = b"".join(answer.iter_raw())
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "br"
        assert int(answer.headers["content-length"]) == len(ENCODED_BODY)
    assert raw == ENCODED_BODY  # as the upstream sent it: not decoded, not relabelled
    assert upstream.seen[-1].headers["accept-encoding"] == "br"


@pytest.mark.uvicorn_only(
    "the app is not told that a client hung up while it waits (no http.disconnect before the "
    "answer), so such a request keeps its place"
)
def test_budget__anonymous_requests_that_hang_up_never_hold_back_a_keyed_fill(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--upstream-max-rps", "2")
    request = b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n\r\n"  # no key
    before = sockets_of(proxy.process.pid)
    gone = []
    for _ in range(30):
        sock = socket.create_connection(("127.0.0.1", proxy.port))
        sock.sendall(request)
        gone.append(sock)

    def all_read() -> bool:  # each request read, so each queued for the budget
        unread = unread_in_accepted(proxy, before)
        return len(unread) == 30 and not any(unread)

    eventually(all_read)
    for sock in gone:
        sock.close()  # ...and their clients hang up
    started = time.monotonic()
    answer = proxy.client.get("/api/user/leads", headers=A)
    took = time.monotonic() - started
    assert answer.status_code == 200
    assert took < 1.5, f"the keyed fill waited {took:.1f} s"
    # One more without a key queues behind them all: answered, their slots have passed.
    assert proxy.client.get("/api/user/leads?after=1").status_code == 200
    assert upstream.seen[-1].query == "after=1"
    anonymous = [
        seen
        for seen in upstream.seen
        if "authorization" not in seen.headers and seen.query != "after=1"
    ]
    assert len(anonymous) <= 2  # the one that got a slot at once, perhaps one more


def read_answer(sock: socket.socket) -> tuple[int, bytes]:
    """Everything the server sends until it closes: its status and body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.uvicorn_only(
    "a head over its read buffer gets granian's own 431, with an empty body, not the API's JSON"
)
def test_head__over_max_header_bytes_is_a_431_and_the_connection_ends(launch: Launch) -> None:
    server = launch("--max-header-bytes", "8192")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n")
        try:
            for _ in range(100):  # 100 x 1 KiB of header, or until the server hangs up
                sock.sendall(b"X-Filler: " + b"a" * 1014 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, body = read_answer(sock)
    assert status == 431
    assert json.loads(body)["message"] == "The request line and headers are over 8192 bytes."
    # Headers within the bound, and a body larger than it, are fine.
    big = {**A, "X-Filler": "a" * 6000}
    assert server.client.get("/api/user/leads", headers=big).status_code == 200


@pytest.mark.uvicorn_only(
    "a head slower than --header-timeout has its connection closed with no answer, not a 408"
)
def test_head__slower_than_header_timeout_is_a_408_and_the_connection_ends(
    launch: Launch,
) -> None:
    server = launch("--header-timeout", "0.5")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/user/leads HTTP/1.1\r\nHost: localhost\r\n")  # ...and no more
        started = time.monotonic()
        status, body = read_answer(sock)
        took = time.monotonic() - started
    assert status == 408
    assert "took over 0.5 s" in json.loads(body)["message"]
    assert took < 2
    # A kept-alive connection is timed again for each request's head, not in between.
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/user/leads", headers=A).status_code == 200
        time.sleep(0.8)
        assert client.get("/api/user/leads", headers=A).status_code == 200


@pytest.mark.uvicorn_only(
    "granian's read buffer is at least 8192 bytes: --max-header-bytes under that is refused "
    "at start"
)
def test_head__a_large_body_is_not_a_large_head(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--max-header-bytes", "4096")
    answer = proxy.client.post("/api/user/lead", headers=A, content=b"x" * 200_000)
    assert answer.status_code == 200


@pytest.mark.uvicorn_only(
    "a request still running when the grace period ends loses its connection (the worker is "
    "stopped), with no 503"
)
def test_shutdown__a_request_cut_by_the_grace_period_gets_a_json_503(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    answers: list[httpx.Response] = []

    def ask() -> None:
        answers.append(httpx.get(f"{proxy.url}/api/user/leads", headers=A, timeout=30))

    with upstream.behaving(delay=15):  # longer than the 5 s grace period
        asking = threading.Thread(target=ask)
        asking.start()
        eventually(lambda: upstream.count() == 1)  # the fill is on its way
        proxy.process.terminate()
        asking.join(30)
    (answer,) = answers
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["message"] == "The server is shutting down; send the request again."
    proxy.process.wait(15)
    log = proxy.log()
    assert "Traceback" not in log
    assert "Exception in ASGI application" not in log
