"""HTTP fidelity through real servers: PHP's trim on query values, mock mode's
Cache-Control, hostile bodies on the purge endpoint, and one Date and one Server
on a pass-through answer."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, assert_valid_leads, clean_env, start_server

ADMIN_TOKEN = "fidelity-admin-token-01"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LARAVEL_CACHE_CONTROL = "private, no-cache"
UPSTREAM_DATE = "Mon, 01 Jan 2001 00:00:00 GMT"
UPSTREAM_SERVER = "fake-upstream/1.0"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory, http_server: str) -> Iterator[Server]:
    """Mock mode on the bundled fixtures, as `leads-proxy serve` starts it."""
    running = start_server(tmp_path_factory.mktemp("fidelity"), http_server=http_server)
    yield running
    running.stop()


StartProxy = Callable[..., Server]


@pytest.fixture
def start_proxy(launch: Launch, upstream: FakeUpstream) -> StartProxy:
    """Proxy mode in front of the test's fake upstream, with an admin token."""

    def start(*args: str) -> Server:
        env = clean_env(LEADS_PROXY_ADMIN_TOKEN=ADMIN_TOKEN)
        return launch("--mode", "proxy", "--upstream-url", upstream.url, *args, env=env)

    return start


@pytest.fixture(scope="module")
def purging(tmp_path_factory: pytest.TempPathFactory, http_server: str) -> Iterator[Server]:
    """One proxy-mode server (and its fake upstream) for the many purge bodies."""
    fake = FakeUpstream()
    env = clean_env(LEADS_PROXY_ADMIN_TOKEN=ADMIN_TOKEN)
    folder = tmp_path_factory.mktemp("purging")
    proxy = ("--mode", "proxy", "--upstream-url", fake.url)
    running = start_server(folder, *proxy, env=env, http_server=http_server)
    yield running
    running.stop()
    fake.stop()


# --- PHP's trim, not Python's strip ---------------------------------------------


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("per_page=%0C5", 422),  # form feed: not trimmed by PHP, not an integer
        ("per_page=5%C2%A0", 422),  # no-break space
        ("per_page=%E2%80%835", 422),  # em space
        ("per_page=%005", 200),  # NUL: trimmed by PHP
        ("per_page=%0B5%20%09", 200),  # vertical tab, space, tab: trimmed
    ],
    ids=["form-feed", "no-break-space", "em-space", "nul", "vtab-space-tab"],
)
def test_mock__query_values_trimmed_as_php_trims(mock: Server, query: str, status: int) -> None:
    response = mock.client.get(f"/api/user/leads?{query}", headers=AUTH)
    assert response.status_code == status, response.text
    body = response.json()
    if status == 422:
        message = "The per page field must be an integer."
        assert body == {"message": message, "errors": {"per_page": [message]}}
    else:
        assert_valid_leads(body)
        assert body["per_page"] == 5


# --- Cache-Control on mock mode's listing ---------------------------------------


@pytest.mark.parametrize("query", ["", "?per_page=5&page=2", "?status=created"])
def test_mock__listing_is_private_no_cache_and_revalidates(mock: Server, query: str) -> None:
    path = f"/api/user/leads{query}"
    for encoding in ("identity", "gzip"):
        headers = {**AUTH, "Accept-Encoding": encoding}
        got = mock.client.get(path, headers=headers)
        assert got.status_code == 200
        assert got.headers.get_list("cache-control") == [LARAVEL_CACHE_CONTROL]
        head = mock.client.head(path, headers=headers)
        assert head.status_code == 200
        assert head.headers.get_list("cache-control") == [LARAVEL_CACHE_CONTROL]
        again = mock.client.get(path, headers={**headers, "If-None-Match": got.headers["etag"]})
        assert again.status_code == 304
        assert again.headers.get_list("cache-control") == [LARAVEL_CACHE_CONTROL]
        assert again.headers["etag"] == got.headers["etag"]


def test_replay__recorded_answers_are_private_no_cache(
    launch: Launch, upstream: FakeUpstream, tmp_path: Path
) -> None:
    folder = tmp_path / "recorded"
    recorder = launch(
        "--mode", "record", "--fixtures", str(folder), "--upstream-url", upstream.url,
        env=clean_env(),
    )  # fmt: skip
    for query in ("", "?status=created"):  # the bare listing is the folder's default
        assert recorder.client.get(f"/api/user/leads{query}", headers=AUTH).status_code == 200
    recorder.stop()  # the index is written at exit
    upstream.refuse()
    replaying = launch("--fixtures", str(folder))
    got = replaying.client.get("/api/user/leads?status=created", headers=AUTH)
    assert got.headers["x-mock-source"] == "recorded"
    assert got.headers.get_list("cache-control") == [LARAVEL_CACHE_CONTROL]
    again = replaying.client.get(
        "/api/user/leads?status=created", headers={**AUTH, "If-None-Match": got.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.headers.get_list("cache-control") == [LARAVEL_CACHE_CONTROL]


# --- hostile bodies on DELETE /_proxy/cache -------------------------------------

DEEP = b'{"api_key":' + b"[" * 20_000 + b"]" * 20_000 + b"}"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (rb'{"api_key": "\ud800"}', 422),
        (rb'{"key": "\ud800"}', 422),
        (rb'{"api_key": "1|a\udfffb"}', 422),
        (rb'{"\ud800": "x", "api_key": "1|k"}', 422),
        (b'{"api_key": "\xff\xfe"}', 422),
        (b'\xef\xbb\xbf{"api_key": "1|k"}', 422),  # a BOM
        (DEEP, 422),
        (b"[" * 60_000, 422),
        (b'{"api_key": 1e999999}', 422),
        (b'{"api_key": ' + b"9" * 5_000 + b"}", 422),
        (b'{"api_key": NaN}', 422),
        (b"[1]", 422),
        (b'"1|k"', 422),
        (b"null", 422),
        (b"42", 422),
        (b'{"api_key": ["1|k"]}', 422),
        (b'{"api_key": "1|k"', 422),
        (b"\x0c", 422),  # not JSON's whitespace: not an empty body
        (b'{"api_key": "' + b"k" * 100_000 + b'"}', 413),
    ],
    ids=[
        "lone-high-surrogate", "lone-surrogate-other-name", "lone-low-surrogate",
        "surrogate-in-a-name", "invalid-utf8", "bom", "deeply-nested", "unclosed-nesting",
        "huge-float", "huge-int", "nan", "a-list", "a-string", "null", "a-number",
        "key-a-list", "truncated", "form-feed", "over-the-bound",
    ],
)  # fmt: skip
def test_purge__bodies_it_cannot_use_get_a_json_4xx(
    purging: Server, body: bytes, status: int
) -> None:
    proxy = purging
    logged = len(proxy.log())
    assert proxy.client.get("/api/user/leads", headers=AUTH).status_code == 200
    response = proxy.client.request("DELETE", "/_proxy/cache", headers=ADMIN, content=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["message"]
    assert isinstance(message, str)
    assert "Traceback" not in proxy.log()[logged:]
    assert proxy.client.get("/api/user/leads", headers=AUTH).headers["x-cache"] == "HIT"
    # The server is still there, and a good body still purges.
    purged = proxy.client.request(
        "DELETE", "/_proxy/cache", headers=ADMIN, json={"api_key": AUTH["Authorization"][7:]}
    )
    assert purged.json() == {"purged": 1, "scope": "api_key"}


def test_purge__an_unbounded_chunked_body_is_refused(purging: Server) -> None:
    proxy = purging

    def chunks() -> Iterator[bytes]:
        for _ in range(1_000):
            yield b" " * 1024

    response = proxy.client.request("DELETE", "/_proxy/cache", headers=ADMIN, content=chunks())
    assert response.status_code == 413
    assert "bytes" in response.json()["message"]


@pytest.mark.uvicorn_only(
    "an answer sent before a large body is read closes the connection at once; the client may"
    " see it closed, not the 413"
)
def test_scenario__bodies_it_cannot_use_get_a_json_422(launch: Launch) -> None:
    mock = launch()
    bodies = {
        rb'{"prefer": "\ud800"}': 422,
        b'{"prefer": "\xff"}': 422,
        b"[" * 30_000: 422,
        b'{"prefer": "code=429"}' + b" " * 100_000: 413,
        b'{"prefer": "nonsense=1"}': 422,  # asks for nothing mock mode does
        b'{"prefer": "example=no-such-example"}': 422,
        b'{"prefer": ""}': 422,
    }
    for body, status in bodies.items():
        response = mock.client.put("/_proxy/scenario", content=body)
        assert response.status_code == status, (body[:30], response.text)
        assert isinstance(response.json()["message"], str)
    assert mock.client.get("/api/user/leads", headers=AUTH).status_code == 200
    assert "Traceback" not in mock.log()


# --- one Date and one Server on a pass-through ----------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
def test_passthrough__one_date_and_one_server(
    start_proxy: StartProxy, upstream: FakeUpstream, method: str
) -> None:
    proxy = start_proxy()
    sent = (("Date", UPSTREAM_DATE), ("Server", UPSTREAM_SERVER))
    with upstream.behaving(headers=sent):
        before = time.time()
        response = proxy.client.request(method, "/api/user/me", headers=AUTH)
    assert response.status_code == 200
    assert upstream.count(path="/api/user/me") == 1
    dates = response.headers.get_list("date")
    servers = response.headers.get_list("server")
    assert len(dates) == 1, dates
    assert len(servers) == 1, servers
    # Ours: the time this answer left leads-proxy, and the server that sent it.
    assert UPSTREAM_SERVER not in servers
    assert email.utils.parsedate_to_datetime(dates[0]).timestamp() >= int(before) - 1


def test_passthrough__raw_response_has_one_date_and_one_server(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    """Counted on the bytes of the answer, not on a client's view of them."""
    proxy = start_proxy()
    sent = (("Date", UPSTREAM_DATE), ("Server", UPSTREAM_SERVER))
    with (
        upstream.behaving(headers=sent),
        httpx.Client() as client,
        client.stream("GET", f"{proxy.url}/api/user/me", headers=AUTH) as response,
    ):
        raw = response.headers.raw
    names = [name.lower() for name, _ in raw]
    assert names.count(b"date") == 1
    assert names.count(b"server") == 1
