"""CORS: allowed origins, the preflight's answer, the headers an answer carries."""

from __future__ import annotations

import json

import pytest

from leads_proxy.edge.cors import (
    ALLOW_HEADERS,
    EXPOSE_HEADERS,
    MAX_AGE,
    Cors,
    origin_of,
    without_cors,
)
from leads_proxy.edge.modes import MOCK_METHODS, PROXY_METHODS

APP = b"http://app.test:5173"
OTHER = b"https://evil.test"


def listed(value: bytes) -> list[str]:
    return [item.strip() for item in value.decode().split(",")]


def test_of__no_origin_is_no_cors_and_a_star_is_any() -> None:
    assert Cors.of([], MOCK_METHODS) is None
    anyone = Cors.of(["*"], MOCK_METHODS)
    assert anyone is not None
    assert anyone.origins is None
    assert anyone.allows(OTHER)
    assert Cors.of(["http://a.test", "*"], MOCK_METHODS) == anyone  # a star wins


def test_of__listed_origins_only_and_exactly() -> None:
    cors = Cors.of([APP.decode(), "http://b.test"], MOCK_METHODS)
    assert cors is not None
    assert cors.allows(APP)
    assert cors.allows(b"http://b.test")
    for near in (OTHER, b"http://app.test", b"http://app.test:5173/", b"HTTP://APP.TEST:5173"):
        assert not cors.allows(near), near


def test_headers__a_listed_origin_is_named_and_answers_vary_on_it() -> None:
    cors = Cors.of([APP.decode()], MOCK_METHODS)
    assert cors is not None
    headers = cors.headers(APP)
    assert dict(headers)[b"access-control-allow-origin"] == APP
    assert dict(headers)[b"vary"] == b"Origin"
    assert listed(dict(headers)[b"access-control-expose-headers"]) == list(EXPOSE_HEADERS)


def test_headers__any_origin_is_a_star_and_needs_no_vary() -> None:
    cors = Cors.of(["*"], MOCK_METHODS)
    assert cors is not None
    headers = dict(cors.headers(APP))
    assert headers[b"access-control-allow-origin"] == b"*"
    assert b"vary" not in headers
    assert b"ETag" in headers[b"access-control-expose-headers"]


@pytest.mark.parametrize(
    ("requested", "extra"),
    [
        (None, []),
        (b"", []),
        (b"Authorization, Prefer", []),
        (b"X-Trace-Id", ["x-trace-id"]),
        (b"x-a, X-A, x-b", ["x-a", "x-b"]),
        (b"x bad, x-good", ["x-good"]),
        (b"x-\xe9t\xe9", []),
        (b"x-" + b"a" * 63, []),
        (b"x-" + b"a" * 62, ["x-" + "a" * 62]),
        (b'x-"quoted"', []),
    ],
    ids=[
        "none", "empty", "already-allowed", "one-more", "repeated-once", "space-in-a-name",
        "not-ascii", "name-over-64", "name-of-64", "quotes",
    ],
)  # fmt: skip
def test_cors__a_preflight_lists_only_allowed_headers(
    requested: bytes | None, extra: list[str]
) -> None:
    cors = Cors.of([APP.decode()], PROXY_METHODS)
    assert cors is not None
    reply = cors.preflight(APP, requested)
    assert (reply.status, reply.body) == (204, b"")
    headers = dict(reply.headers)
    assert listed(headers[b"access-control-allow-headers"]) == [*ALLOW_HEADERS, *extra]
    assert listed(headers[b"access-control-allow-methods"]) == list(PROXY_METHODS)
    assert headers[b"access-control-max-age"] == str(MAX_AGE).encode()
    assert headers[b"access-control-allow-origin"] == APP


def test_preflight__a_disallowed_origin_is_told_why_with_no_cors_header() -> None:
    cors = Cors.of([APP.decode()], MOCK_METHODS)
    assert cors is not None
    reply = cors.preflight(OTHER, b"x-trace-id")
    assert reply.status == 403
    message = json.loads(reply.body)["message"]
    assert "https://evil.test" in message
    assert "--cors-origins" in message
    assert not any(name.startswith(b"access-control-") for name, _ in reply.headers)


def test_preflight__the_methods_are_the_modes() -> None:
    cors = Cors.of(["*"], MOCK_METHODS)
    assert cors is not None
    methods = dict(cors.preflight(APP, None).headers)[b"access-control-allow-methods"]
    assert listed(methods) == ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]  # writes too


def test_without_cors__drops_every_access_control_header_and_keeps_the_rest() -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"access-control-allow-origin", b"*"),
        (b"vary", b"Origin"),
        (b"access-control-allow-credentials", b"true"),
    ]
    assert without_cors(headers) == [(b"content-type", b"application/json"), (b"vary", b"Origin")]


def test_origin_of__the_first_origin_header() -> None:
    assert origin_of([(b"host", b"h"), (b"origin", APP), (b"origin", OTHER)]) == APP
    assert origin_of([(b"host", b"h")]) is None
