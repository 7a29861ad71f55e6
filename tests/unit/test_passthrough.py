"""The rest of the API sent on as it came, on a scripted upstream (no sockets); and
which requests write to a lead."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import httpx
import pytest

from leads_proxy.http.request import Incoming
from leads_proxy.proxy.exchange import Answer, UpstreamTimeout, UpstreamUnavailable
from leads_proxy.proxy.passthrough import is_lead_write, send_on
from leads_proxy.proxy.upstream import Upstream
from leads_proxy.proxy.verdicts import passed

BASE = "http://upstream.test/api"


class Unread(httpx.AsyncByteStream):
    """A body still to be read, as a real transport's answer holds it."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


def streamed(status: int, body: bytes = b'{"ok":true}', **headers: str) -> httpx.Response:
    """An upstream answer as httpx's own transport returns it: headers read, body not."""
    return httpx.Response(status, headers=headers, stream=Unread(body))


def sent_on(
    incoming: Incoming, answer: httpx.Response | None = None
) -> tuple[httpx.Request, Answer]:
    """What the upstream received for `incoming`, and the answer send_on made of its reply."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer if answer is not None else streamed(200)

    upstream = Upstream(BASE, transport=httpx.MockTransport(handler))
    got = asyncio.run(send_on(upstream, incoming))
    (request,) = seen
    return request, got


@pytest.mark.parametrize(
    ("raw_path", "path", "url"),
    [
        (b"/api/user/leads/7", "/api/user/leads/7", "/api/user/leads/7"),
        (b"/api/user/a%3Fb", "/api/user/a?b", "/api/user/a%3Fb"),
        (b"/api/user/caf%C3%A9", "/api/user/café", "/api/user/caf%C3%A9"),
        (b"/leads", "/leads", "/api/user/leads"),
        (b"", "/api/user/lead", "/api/user/lead"),
    ],
    ids=["plain", "encoded-question-mark", "encoded-utf8", "leads-alias", "no-raw-path"],
)
def test_send_on__the_path_goes_under_the_base_as_the_client_wrote_it(
    raw_path: bytes, path: str, url: str
) -> None:
    request, _ = sent_on(Incoming(path=path, raw_path=raw_path))
    assert request.url.raw_path.decode() == url
    assert request.url.host == "upstream.test"


def test_send_on__the_query_goes_as_it_came_not_in_canonical_form() -> None:
    request, _ = sent_on(Incoming(path="/api/user/x", query=b"b=2&a=%2B1&a=3"))
    assert request.url.query == b"b=2&a=%2B1&a=3"


def test_send_on__method_body_and_end_to_end_headers_go_on_hop_by_hop_ones_stay() -> None:
    incoming = Incoming(
        method="PATCH",
        path="/api/user/leads/7",
        body=b'{"status":"done"}',
        headers=[
            (b"authorization", b"Bearer 1|key"),
            (b"content-type", b"application/json"),
            (b"x-trace", b"abc"),
            (b"host", b"leads-proxy.local"),
            (b"connection", b"keep-alive, x-private"),
            (b"x-private", b"named-by-connection"),
            (b"keep-alive", b"timeout=5"),
            (b"te", b"trailers"),
            (b"transfer-encoding", b"chunked"),
            (b"content-length", b"999"),
            (b"proxy-authorization", b"Basic c2VjcmV0"),
        ],
    )
    request, _ = sent_on(incoming)
    assert request.method == "PATCH"
    assert request.content == b'{"status":"done"}'
    assert request.headers["authorization"] == "Bearer 1|key"
    assert request.headers["x-trace"] == "abc"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == "upstream.test"  # the upstream's, not ours
    assert request.headers["content-length"] == "17"  # the body's, not the client's
    for gone in ("x-private", "keep-alive", "te", "transfer-encoding", "proxy-authorization"):
        assert gone not in request.headers, gone
    assert "connection" not in request.headers


def test_send_on__a_head_uses_its_upstream_connection_once() -> None:
    request, _ = sent_on(Incoming(method="HEAD", path="/api/user/lead"))
    assert request.method == "HEAD"
    assert request.headers["connection"] == "close"
    get, _ = sent_on(Incoming(method="GET", path="/api/user/lead"))
    assert "connection" not in get.headers


def test_send_on__the_answer_keeps_its_content_encoding_and_bytes() -> None:
    packed = gzip.compress(b'{"id":7}')
    reply = streamed(201, packed, **{"content-encoding": "gzip", "x-upstream": "yes"})
    _, answer = sent_on(Incoming(method="POST", path="/api/user/lead"), reply)
    assert answer.status == 201
    assert answer.body == packed  # not decoded
    assert answer.encoded
    assert answer.header("content-encoding") == "gzip"
    assert answer.header("x-upstream") == "yes"


def test_passed_on__the_answer_leaves_date_and_server_to_the_server() -> None:
    reply = streamed(200, b"{}", Date="Mon, 01 Jan 2001 00:00:00 GMT", Server="up/1", x_up="1")
    _, answer = sent_on(Incoming(method="GET", path="/api/user/me"), reply)
    names = [name for name, _ in passed(answer).headers]
    assert b"date" not in names
    assert b"server" not in names
    assert b"x_up" in names


def test_send_on__an_answer_whose_body_the_transport_already_read_is_sent_on() -> None:
    _, answer = sent_on(
        Incoming(method="POST", path="/api/user/lead"), httpx.Response(200, content=b"{}")
    )
    assert (answer.status, answer.body) == (200, b"{}")


def test_send_on__an_already_read_answer_keeps_its_content_encoding_and_bytes() -> None:
    packed = gzip.compress(b'{"id":7}')
    read = httpx.Response(200, content=packed, headers={"content-encoding": "gzip"})
    _, answer = sent_on(Incoming(method="POST", path="/api/user/lead"), read)
    assert answer.header("content-encoding") == "gzip"
    assert answer.body == packed


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (httpx.ConnectError("refused"), UpstreamUnavailable),
        (httpx.ReadError("reset"), UpstreamUnavailable),
        (httpx.ReadTimeout("slow"), UpstreamTimeout),
    ],
    ids=["refused", "reset", "timeout"],
)
def test_send_on__a_failed_exchange_is_our_error(
    error: httpx.TransportError, raised: type[Exception]
) -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        raise error

    upstream = Upstream(BASE, transport=httpx.MockTransport(failing))
    with pytest.raises(raised):
        asyncio.run(send_on(upstream, Incoming(method="POST", path="/api/user/lead")))


@pytest.mark.parametrize(
    ("method", "path", "writes"),
    [
        ("POST", "/api/user/lead", True),
        ("POST", "/api/user/lead/", True),
        ("PUT", "/api/user/leads/7", True),
        ("PATCH", "/api/user/leads/7", True),
        ("DELETE", "/api/user/leads/7/", True),
        ("GET", "/api/user/leads/7", False),
        ("HEAD", "/api/user/lead", False),
        ("OPTIONS", "/api/user/lead", False),
        ("POST", "/api/user/leads", False),
        ("POST", "/api/user/leads/", False),
        ("POST", "/api/user/leads/7/call", False),
        ("POST", "/api/user/leadsx", False),
        ("POST", "/api/user/campaigns", False),
        ("DELETE", "/api/admin/lead", False),
    ],
    ids=[
        "create", "create-slash", "put", "patch", "delete-slash", "read", "head", "options",
        "post-to-the-listing", "post-to-the-listing-slash", "an-action-on-a-lead",
        "a-longer-name", "another-resource", "another-prefix",
    ],
)  # fmt: skip
def test_is_lead_write__writes_to_a_lead_only(method: str, path: str, writes: bool) -> None:
    assert is_lead_write(Incoming(method=method, path=path)) is writes
