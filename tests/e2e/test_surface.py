"""The HTTP surface generic clients expect, through a real server: HEAD, trailing
slashes, Laravel's 404 and 405 words, and CORS as a browser's preflight and calls
meet it (the browser itself: tests/e2e/test_browser.py)."""

from __future__ import annotations

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, clean_env

ORIGIN = "http://localhost:5173"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization, prefer, if-none-match",
}
EXPOSED = {"etag", "cache-status", "x-cache", "age", "preference-applied", "retry-after"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/user/leads",
        "/api/user/leads?per_page=2&page=2",
        "/leads",
        "/_proxy/health",
        "/docs",
        "/openapi.json",
    ],
)
def test_head__answers_as_get_without_the_body(server: Server, path: str) -> None:
    got = server.client.get(path, headers=AUTH)
    head = server.client.head(path, headers=AUTH)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers.get("etag") == got.headers.get("etag")


def test_head__without_a_key_is_the_same_401(server: Server) -> None:
    head = server.client.head("/api/user/leads")
    assert head.status_code == 401
    assert head.content == b""


@pytest.mark.parametrize("path", ["/api/user/leads/", "/leads/", "/_proxy/health/"])
def test_trailing_slash__answers_as_without_it(server: Server, path: str) -> None:
    with_slash = server.client.get(path + "?per_page=1", headers=AUTH)
    without = server.client.get(path.rstrip("/") + "?per_page=1", headers=AUTH)
    assert with_slash.status_code == 200, with_slash.text
    assert with_slash.content == without.content
    if path != "/_proxy/health/":  # the page URLs name the path without the slash
        assert "leads/?" not in with_slash.text


def test_unknown_route__is_laravels_404(server: Server) -> None:
    got = server.client.get("/api/user/nope", headers=AUTH)
    assert got.status_code == 404
    assert got.json() == {"message": "The route api/user/nope could not be found."}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_wrong_method__is_laravels_405_listing_get_and_head(server: Server, method: str) -> None:
    got = server.client.request(method, "/api/user/leads", headers=AUTH)
    assert got.status_code == 405
    assert got.headers["allow"] == "GET, HEAD"
    assert got.json() == {
        "message": f"The {method} method is not supported for route api/user/leads. "
        "Supported methods: GET, HEAD."
    }


def test_cors__a_preflight_in_mock_mode_is_answered_for_any_origin(server: Server) -> None:
    got = server.client.options("/api/user/leads", headers=PREFLIGHT)
    assert got.status_code == 204
    assert got.headers["access-control-allow-origin"] == "*"
    assert {"GET", "HEAD"} <= set(got.headers["access-control-allow-methods"].split(", "))
    allowed = set(got.headers["access-control-allow-headers"].split(", "))
    wanted = {"authorization", "prefer", "content-type", "if-none-match", "cache-control", "accept"}
    assert wanted <= allowed
    assert int(got.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize("path", ["/api/user/leads", "/api/user/leads?status=completed", "/nope"])
def test_cors__every_answer_to_an_origin_carries_its_headers(server: Server, path: str) -> None:
    got = server.client.get(path, headers={**AUTH, "Origin": ORIGIN})
    assert got.headers["access-control-allow-origin"] == "*"
    exposed = {
        name.strip().lower() for name in got.headers["access-control-expose-headers"].split(",")
    }
    assert exposed >= EXPOSED
    assert {"x-ratelimit-limit", "x-ratelimit-remaining"} <= exposed
    assert "origin" not in got.headers.get("vary", "").lower()  # any origin: nothing varies


def test_cors__none_in_proxy_mode_unless_asked(launch: Launch, upstream: FakeUpstream) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    got = proxy.client.get("/api/user/leads", headers={**AUTH, "Origin": ORIGIN})
    assert got.status_code == 200
    assert not [name for name in got.headers if name.startswith("access-control-")]


def test_cors__listed_origins_only_and_vary_origin(launch: Launch, upstream: FakeUpstream) -> None:
    proxy = launch(
        "--mode", "proxy", "--upstream-url", upstream.url,
        "--cors-origins", f"{ORIGIN}, https://app.example.com",
        env=clean_env(),
    )  # fmt: skip
    allowed = proxy.client.get("/api/user/leads", headers={**AUTH, "Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in allowed.headers.get_list("vary")
    preflight = proxy.client.options("/api/user/leads", headers=PREFLIGHT)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]  # forwarded paths

    stranger = {**AUTH, "Origin": "http://evil.example"}
    refused = proxy.client.get("/api/user/leads", headers=stranger)
    assert refused.status_code == 200  # the browser, not the server, refuses it
    assert not [name for name in refused.headers if name.startswith("access-control-")]
    refused_preflight = proxy.client.options(
        "/api/user/leads", headers={**PREFLIGHT, "Origin": "http://evil.example"}
    )
    assert refused_preflight.status_code == 403
    assert "http://evil.example" in refused_preflight.json()["message"]
    assert not [n for n in refused_preflight.headers if n.startswith("access-control-")]


def test_cors__an_upstreams_own_cors_headers_are_replaced(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = launch(
        "--mode", "proxy", "--upstream-url", upstream.url, "--cors-origins", ORIGIN,
        env=clean_env(),
    )  # fmt: skip
    with upstream.behaving(headers=(("Access-Control-Allow-Origin", "https://elsewhere.example"),)):
        got = proxy.client.get("/api/user/profile", headers={**AUTH, "Origin": ORIGIN})
    assert got.headers.get_list("access-control-allow-origin") == [ORIGIN]


def test_cors__a_bad_origin_list_is_refused_at_start(launch: Launch) -> None:
    with pytest.raises(AssertionError, match=r"invalid value 'localhost:5173' for --cors-origins"):
        launch("--cors-origins", "localhost:5173")


def test_cors__off_on_request(launch: Launch) -> None:
    mock = launch("--cors-origins", "none")
    got = mock.client.get("/api/user/leads", headers={**AUTH, "Origin": ORIGIN})
    assert "access-control-allow-origin" not in got.headers
    preflight = mock.client.options("/api/user/leads", headers=PREFLIGHT)
    assert preflight.status_code == 405  # no CORS: an OPTIONS like any other method


def test_head__proxy_mode_answers_the_listing_from_the_cache(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    got = proxy.client.get("/api/user/leads", headers=AUTH)
    head = proxy.client.head("/api/user/leads/", headers=AUTH)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["x-cache"] == "HIT"
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == got.headers["content-length"]
    assert upstream.count() == 1


def test_wrong_method__allow_lists_every_route_on_the_path(server: Server) -> None:
    got = server.client.request("PATCH", "/_proxy/requests")
    assert got.status_code == 405
    assert got.headers["allow"] == "DELETE, GET, HEAD"  # two routes, one path
    assert got.json()["message"].endswith("Supported methods: DELETE, GET, HEAD.")
