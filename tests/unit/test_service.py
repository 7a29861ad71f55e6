"""MockService driven directly, with no server: the fine logic and the hot path."""

from __future__ import annotations

import json

import pytest

from app.fixtures import load_fixtures
from app.service import LeadsRequest, MockService, etag_matches, has_bearer
from tests.support import BUNDLED

BEARER = b"Bearer 1|k"


@pytest.fixture(scope="module")
def service() -> MockService:
    return MockService(load_fixtures(BUNDLED))


def test_default_reply__is_the_same_ready_object_every_time(service: MockService) -> None:
    first = service.default_reply(BEARER, None)
    assert first is service.default_reply(BEARER, None)
    assert first.body is service.fixtures.default.body
    assert dict(first.headers)[b"content-length"] == str(len(first.body)).encode()


def test_default_reply__matches_the_full_path(service: MockService) -> None:
    fast = service.default_reply(BEARER, None)
    full = service.list_leads(LeadsRequest(authorization=BEARER))
    assert (fast.status, fast.headers, fast.body) == (full.status, full.headers, full.body)


def test_default_reply__401_and_304(service: MockService) -> None:
    assert service.default_reply(None, None).status == 401
    etag = service.fixtures.default.etag
    assert service.default_reply(BEARER, etag).status == 304
    assert service.default_reply(BEARER, etag).body == b""


def test_rendered__a_repeated_filter_is_computed_once(service: MockService) -> None:
    request = LeadsRequest(query=[("status", "completed")], authorization=BEARER)
    first = service.list_leads(request)
    assert service.list_leads(request) is first
    assert all(lead["status"] == "completed" for lead in json.loads(first.body))


def test_rendered__page_links_follow_the_request_url(service: MockService) -> None:
    def page(url: str) -> str:
        reply = service.list_leads(
            LeadsRequest(query=[("per_page", "5")], authorization=BEARER, url=url)
        )
        next_url: str = json.loads(reply.body)["next_page_url"]
        return next_url

    assert page("http://a:1/leads").startswith("http://a:1/leads?")
    assert page("http://b:2/api/user/leads").startswith("http://b:2/api/user/leads?")


def test_rendered__the_cache_is_bounded_in_bytes() -> None:
    small = MockService(load_fixtures(BUNDLED), rendered_cache_bytes=4096)
    for per_page in range(1, 30):
        small.list_leads(
            LeadsRequest(query=[("per_page", str(per_page % 12 + 1))], authorization=BEARER)
        )
    assert small._rendered.currsize <= 4096


def test_auth_off__lets_everything_in() -> None:
    open_service = MockService(load_fixtures(BUNDLED), require_auth=False)
    assert open_service.default_reply(None, None).status == 200
    assert open_service.list_leads(LeadsRequest(query=[("status", "x")])).status == 200


def test_delay__is_returned_not_slept(service: MockService) -> None:
    reply = service.list_leads(LeadsRequest(authorization=BEARER, prefer=["delay=1500"]))
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
def test_has_bearer(header: bytes | None, ok: bool) -> None:
    assert has_bearer(header) is ok


@pytest.mark.parametrize(
    ("header", "ok"),
    [(b'"a"', True), (b'W/"a"', True), (b'"b", "a"', True), (b"*", True), (b'"b"', False)],
)
def test_etag_matches(header: bytes, ok: bool) -> None:
    assert etag_matches(header, b'"a"') is ok
