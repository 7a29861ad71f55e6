"""The upstream client: pacing, hop-by-hop headers, errors of our own."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.upstream import (
    FILL,
    OTHER,
    Answer,
    Pacer,
    Upstream,
    UpstreamBadStatus,
    UpstreamGarbage,
    UpstreamTimeout,
    UpstreamUnavailable,
    forwardable,
)
from tests.fakes import Clock


def paced(rps: float) -> tuple[Pacer, Clock]:
    """A pacer on a fake clock that its sleeps move forward."""
    clock = Clock(0.0)

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)  # those given a slot run first, at the time they got it
        clock.now += seconds

    return Pacer(rps, clock=clock, sleep=sleep), clock


def test_pacer__spaces_requests_evenly() -> None:
    pacer, clock = paced(4)
    given: list[float] = []

    async def five() -> None:
        for _ in range(5):
            await pacer.wait()
            given.append(clock.now)

    asyncio.run(five())
    assert given == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_pacer__fills_go_first_and_a_cancelled_waiter_takes_no_slot() -> None:
    pacer, clock = paced(10)
    order: list[str] = []

    async def one(name: str, priority: int) -> None:
        await pacer.wait(priority)
        order.append(f"{name}@{clock.now:.1f}")

    async def scenario() -> None:
        await pacer.wait(OTHER)  # takes the free slot at 0.0
        others = [asyncio.create_task(one(f"other{n}", OTHER)) for n in range(3)]
        await asyncio.sleep(0)
        others[0].cancel()  # its client left
        fill = asyncio.create_task(one("fill", FILL))
        await asyncio.gather(fill, *others[1:])

    asyncio.run(scenario())
    assert order == ["fill@0.1", "other1@0.2", "other2@0.3"]


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
