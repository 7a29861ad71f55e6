"""The upstream client reads and decodes a body no further than its byte bound."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from leads_proxy.proxy.exchange import UpstreamUnavailable
from leads_proxy.proxy.upstream import Upstream, UpstreamTooLarge

BOUND = 10_000


class Streamed(httpx.AsyncByteStream):
    """A body as a real connection hands it over: in chunks, not read beforehand."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.content), 1000):
            yield self.content[start : start + 1000]


def answering(content: bytes, **headers: str) -> Upstream:
    def reply(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Streamed(content), headers=headers)

    transport = httpx.MockTransport(reply)
    return Upstream("http://upstream.test/api", transport=transport, max_answer_bytes=BOUND)


@pytest.mark.parametrize(
    ("packed", "encoding"),
    [
        (gzip.compress(b"[" + b" " * 10 * BOUND + b"]"), "gzip"),
        (gzip.compress(gzip.compress(b"[" + b" " * 10 * BOUND + b"]")), "gzip, gzip"),
        (zlib.compress(b"[" + b" " * 10 * BOUND + b"]"), "deflate"),
    ],
    ids=["gzip", "gzip-gzip", "deflate"],
)
def test_fetch_leads__a_body_over_the_bound_once_decoded_is_too_large(
    packed: bytes, encoding: str
) -> None:
    upstream = answering(packed, **{"content-encoding": encoding})
    with pytest.raises(UpstreamTooLarge, match="over 10,000 bytes once decoded") as raised:
        asyncio.run(upstream.fetch_leads("", {}))
    assert raised.value.status == 502
    assert raised.value.upstream_status == 200


def test_request__a_raw_body_over_the_bound_is_too_large_passed_through_too() -> None:
    upstream = answering(b"x" * (BOUND + 1))
    with pytest.raises(UpstreamTooLarge, match="as it came"):
        asyncio.run(upstream.request("GET", "/user/me", decode=False))
    within = asyncio.run(answering(b"x" * BOUND).request("GET", "/user/me", decode=False))
    assert within.body == b"x" * BOUND


def test_fetch_leads__two_gzip_members_are_one_body() -> None:
    packed = gzip.compress(b'{"data": ') + gzip.compress(b"[]}")
    answer = asyncio.run(answering(packed, **{"content-encoding": "gzip"}).fetch_leads("", {}))
    assert answer.body == b'{"data": []}'


def test_fetch_leads__a_body_that_is_not_its_coding_is_unavailable() -> None:
    upstream = answering(b"not gzip", **{"content-encoding": "gzip"})
    with pytest.raises(UpstreamUnavailable, match="could not be decoded: the body is not valid"):
        asyncio.run(upstream.fetch_leads("", {}))
