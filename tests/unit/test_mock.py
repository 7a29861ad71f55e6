"""MockService driven directly, with no server: the fine logic and the hot path."""

from __future__ import annotations

import json

import pytest

from leads_proxy.fixtures.files import load_fixtures
from leads_proxy.http.etag import etag_matches
from leads_proxy.http.keys import bearer_token
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Incoming
from leads_proxy.mock.service import UNAUTHENTICATED, MockService
from tests.fakes import hot_reply
from tests.support import BUNDLED

AUTH = (b"authorization", b"Bearer 1|k")


@pytest.fixture(scope="module")
def service() -> MockService:
    return MockService(load_fixtures(BUNDLED))


def hot(service: MockService, *headers: tuple[bytes, bytes]) -> Reply | None:
    return hot_reply(service, b"", headers)


def test_hot_reply__is_the_same_ready_object_every_time(service: MockService) -> None:
    first = hot(service, AUTH)
    assert first is not None
    assert first is hot(service, AUTH)
    assert first.body is service.fixtures.default.body
    assert dict(first.headers)[b"content-length"] == str(len(first.body)).encode()


def test_hot_reply__matches_the_full_path(service: MockService) -> None:
    fast = hot(service, AUTH)
    full = service.reply(Incoming(headers=[AUTH]))
    assert fast is not None
    assert (fast.status, fast.headers, fast.body) == (full.status, full.headers, full.body)


@pytest.mark.parametrize("query", [b"", b"per_page=5&page=2", b"status=created"])
def test_reply__listings_are_private_no_cache_in_every_form(
    service: MockService, query: bytes
) -> None:
    host = (b"host", b"127.0.0.1:8000")  # as hot_reply sends: the answer is ready for it
    reply = service.reply(Incoming(query=query, headers=[AUTH, host]))
    etag = reply.etag
    assert etag is not None
    revalidated = service.reply(Incoming(query=query, headers=[AUTH, (b"if-none-match", etag)]))
    hot = hot_reply(service, query, [AUTH, host])
    assert revalidated.status == 304
    assert hot is not None
    for form in (reply, reply.gzipped, revalidated, revalidated.gzipped, hot):
        assert form is not None
        cache_control = [value for name, value in form.headers if name == b"cache-control"]
        assert cache_control == [b"private, no-cache"]


def test_hot_reply__401_and_304(service: MockService) -> None:
    assert hot(service) == UNAUTHENTICATED
    not_modified = hot(service, AUTH, (b"if-none-match", service.fixtures.default.etag))
    assert not_modified is not None
    assert (not_modified.status, not_modified.body) == (304, b"")


@pytest.mark.parametrize(
    ("query", "headers"),
    [(b"status=x", [AUTH]), (b"", [AUTH, (b"prefer", b"example=empty")])],
    ids=["query", "prefer"],
)
def test_hot_reply__leaves_everything_else_to_the_full_path(
    service: MockService, query: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    assert hot_reply(service, query, headers) is None


def test_rendered__a_repeated_filter_is_computed_once(service: MockService) -> None:
    request = Incoming(query=b"status=completed", headers=[AUTH])
    first = service.reply(request)
    assert service.reply(request) is first
    assert all(lead["status"] == "completed" for lead in json.loads(first.body))


def test_rendered__page_links_follow_the_request_url(service: MockService) -> None:
    def page(origin: str, path: str) -> str:
        reply = service.reply(
            Incoming(query=b"per_page=5", headers=[AUTH], origin=origin, path=path)
        )
        next_url: str = json.loads(reply.body)["next_page_url"]
        return next_url

    assert page("http://a:1", "/leads").startswith("http://a:1/leads?")
    assert page("http://b:2", "/api/user/leads").startswith("http://b:2/api/user/leads?")


def test_rendered__the_cache_is_bounded_in_bytes() -> None:
    small = MockService(load_fixtures(BUNDLED), rendered_cache_bytes=4096)
    for per_page in range(1, 30):
        small.reply(Incoming(query=f"per_page={per_page % 12 + 1}".encode(), headers=[AUTH]))
    assert small.render._rendered.currsize <= 4096


def test_auth_off__lets_everything_in() -> None:
    open_service = MockService(load_fixtures(BUNDLED), require_auth=False)
    reply = hot(open_service)
    assert reply is not None
    assert reply.status == 200
    assert open_service.reply(Incoming(query=b"status=x")).status == 200


def test_delay__is_returned_not_slept(service: MockService) -> None:
    reply = service.reply(Incoming(headers=[AUTH, (b"prefer", b"delay=1500")]))
    assert reply.delay == 1.5


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (b"Bearer x", True),
        (b"BEARER x", True),
        (b"Bearer  ", False),
        (b"Bearer", False),
        (b"Token x", False),
        (None, False),
    ],
)
def test_bearer_token(header: bytes | None, ok: bool) -> None:
    assert (bearer_token(header) is not None) is ok


@pytest.mark.parametrize(
    ("header", "ok"),
    [(b'"a"', True), (b'W/"a"', True), (b'"b", "a"', True), (b"*", True), (b'"b"', False)],
)
def test_etag_matches(header: bytes, ok: bool) -> None:
    assert etag_matches(header, b'"a"') is ok


HOST = (b"host", b"127.0.0.1:8000")


@pytest.mark.parametrize(
    "query", [b"status=completed", b"page=1&per_page=2", b"campaign_id=1&page=2&per_page=1"]
)
def test_hot_reply__a_listing_answered_once_is_ready_for_the_same_query_and_host(
    query: bytes,
) -> None:
    service = MockService(load_fixtures(BUNDLED))
    assert hot_reply(service, query, [AUTH, HOST]) is None  # not answered yet
    full = service.reply(Incoming(query=query, headers=[AUTH, HOST]))
    assert full.status == 200
    ready = hot_reply(service, query, [AUTH, HOST])
    assert ready is full
    other_host = hot_reply(service, query, [AUTH, (b"host", b"localhost:9")])
    assert other_host is None  # page URLs name the host
    assert hot_reply(service, query, [HOST]) is UNAUTHENTICATED
    prefer = (b"prefer", b"code=500")
    assert hot_reply(service, query, [AUTH, HOST, prefer]) is None
    etag = (b"if-none-match", full.etag or b"")
    not_modified = hot_reply(service, query, [AUTH, HOST, etag])
    assert not_modified is not None
    assert not_modified.status == 304


@pytest.mark.parametrize(
    ("query", "prefer"),
    [(b"per_page=abc", None), (b"status=completed", b"example=documented")],
)
def test_hot_reply__errors_and_scenarios_are_never_made_ready(
    query: bytes, prefer: bytes | None
) -> None:
    service = MockService(load_fixtures(BUNDLED))
    headers = [AUTH, HOST] + ([(b"prefer", prefer)] if prefer else [])
    service.reply(Incoming(query=query, headers=headers))
    assert hot_reply(service, query, [AUTH, HOST]) is None
