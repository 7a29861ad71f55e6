"""The upstream client: hop-by-hop headers, errors of our own, a 4xx as an answer."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from leads_proxy.proxy.exchange import (
    Answer,
    UpstreamBadStatus,
    UpstreamGarbage,
    UpstreamTimeout,
    UpstreamUnavailable,
    forwardable,
)
from leads_proxy.proxy.upstream import Upstream


def test_forwardable__drops_hop_by_hop_and_connection_named_headers() -> None:
    headers = [
        ("Connection", "keep-alive, X-Private"),
        ("X-Private", "1"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Type", "application/json"),
        ("Set-Cookie", "a=b"),
    ]
    assert forwardable(headers) == [("Content-Type", "application/json"), ("Set-Cookie", "a=b")]


def test_answer__header_by_lower_case_name() -> None:
    answer = Answer(200, [("Retry-After", "5"), ("retry-after", "9")], b"", 0.0)
    assert answer.header("retry-after") == "5"
    assert answer.header("etag") is None


def answering(handler: httpx.MockTransport) -> Upstream:
    return Upstream("http://upstream.test/api", transport=handler, timeout=1.0)


@pytest.mark.parametrize(
    ("respond", "error"),
    [
        (lambda _r: httpx.Response(503), UpstreamBadStatus),
        (lambda _r: httpx.Response(200, content=b"<html>"), UpstreamGarbage),
    ],
    ids=["5xx", "not-json"],
)
def test_fetch_leads__a_5xx_or_a_200_that_is_not_json_is_an_error(
    respond: object, error: type[Exception]
) -> None:
    upstream = answering(httpx.MockTransport(respond))  # type: ignore[arg-type]
    with pytest.raises(error):
        asyncio.run(upstream.fetch_leads("", {}))


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (httpx.ConnectTimeout("slow"), UpstreamTimeout),
        (httpx.ConnectError("refused"), UpstreamUnavailable),
        (httpx.RemoteProtocolError("reset"), UpstreamUnavailable),
    ],
)
def test_request__transport_errors_become_ours(raised: Exception, error: type[Exception]) -> None:
    def fail(_request: httpx.Request) -> httpx.Response:
        raise raised

    with pytest.raises(error):
        asyncio.run(answering(httpx.MockTransport(fail)).request("GET", "/user/leads"))


def test_fetch_leads__a_4xx_is_an_answer_not_an_error() -> None:
    upstream = answering(httpx.MockTransport(lambda _r: httpx.Response(401, json={"m": 1})))
    answer = asyncio.run(upstream.fetch_leads("status=x", {"Authorization": "Bearer 1|k"}))
    assert answer.status == 401
    assert upstream.last_answer_at is not None
