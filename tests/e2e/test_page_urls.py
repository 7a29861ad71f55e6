"""Proxy mode's page URLs lead back through it: a client that follows `next_page_url`
stays behind the shield. The fake upstream paginates with its own URLs, as Laravel
does (slashes escaped); every page is walked through a real proxy-mode server."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import Launch, Server, clean_env

A = {"Authorization": "Bearer 7|page-walk-key-0007"}
SIZE = 23  # five pages of five


@pytest.fixture
def proxy(launch: Launch, upstream: FakeUpstream) -> Server:
    return launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())


def urls_in(page: dict[str, Any]) -> list[str]:
    named = [page[name] for name in ("first_page_url", "last_page_url", "next_page_url",
                                     "prev_page_url", "path")]  # fmt: skip
    return [url for url in [*named, *(link["url"] for link in page["links"])] if url]


def walk(client: httpx.Client, first: str) -> list[dict[str, Any]]:
    """Every page, by following next_page_url from `first`, as a client does."""
    pages: list[dict[str, Any]] = []
    url: str | None = first
    while url is not None:
        answer = client.get(url, headers=A)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        url = pages[-1]["next_page_url"]
    return pages


@pytest.mark.parametrize("path", ["/leads", "/api/user/leads"])
def test_page_urls__a_walk_stays_behind_the_shield_and_the_second_is_all_hits(
    proxy: Server, upstream: FakeUpstream, path: str
) -> None:
    with upstream.behaving(listing=SIZE), httpx.Client(timeout=10) as client:
        first = walk(client, f"{proxy.url}{path}?per_page=5")
        asked = upstream.count()
        again = walk(client, f"{proxy.url}{path}?per_page=5")
        assert upstream.count() == asked  # the second walk: all from the cache
    assert asked == len(first) == 5
    assert again == first
    leads = [lead for page in first for lead in page["data"]]
    assert leads == upstream.listing_of(A["Authorization"], SIZE)
    for page in first:
        for url in urls_in(page):
            assert url.startswith(f"{proxy.url}{path}"), url
            assert upstream.url.rsplit("/api", 1)[0] not in url


def test_page_urls__gzip_and_etag_say_the_same_rebased_bytes(
    proxy: Server, upstream: FakeUpstream
) -> None:
    url = f"{proxy.url}/leads?per_page=5&page=2"
    with upstream.behaving(listing=SIZE), httpx.Client(timeout=10) as client:
        plain = client.get(url, headers={**A, "Accept-Encoding": "identity"})
        raw = client.build_request("GET", url, headers={**A, "Accept-Encoding": "gzip"})
        zipped = client.send(raw, stream=True)
        compressed = b"".join(zipped.iter_raw())
        zipped.close()
        revalidated = client.get(
            url,
            headers={**A, "If-None-Match": plain.headers["etag"], "Accept-Encoding": "identity"},
        )
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(compressed) == plain.content
    assert f"{proxy.url}/leads?" in json.loads(plain.content)["next_page_url"]
    assert upstream.url not in plain.text.replace("\\/", "/")
    assert revalidated.status_code == 304


def test_page_urls__each_name_the_client_used_gets_its_own(
    proxy: Server, upstream: FakeUpstream
) -> None:
    other = proxy.url.replace("127.0.0.1", "localhost")
    with upstream.behaving(listing=SIZE), httpx.Client(timeout=10) as client:
        by_ip = client.get(f"{proxy.url}/leads?per_page=5", headers=A).json()
        by_name = client.get(f"{other}/leads?per_page=5", headers=A).json()
    assert by_ip["next_page_url"].startswith(f"{proxy.url}/leads?")
    assert by_name["next_page_url"].startswith(f"{other}/leads?")


@pytest.mark.parametrize(
    "host", ['127.0.0.1:1"x', "127.0.0.1\\evil", "a b", "127.0.0.1:99999999", ""]
)
def test_page_urls__a_host_that_cannot_be_written_into_a_url_is_a_400(
    proxy: Server, upstream: FakeUpstream, host: str
) -> None:
    with upstream.behaving(listing=SIZE), httpx.Client(timeout=10) as client:
        answer = client.get(f"{proxy.url}/leads?per_page=5", headers={**A, "Host": host})
    assert answer.status_code == 400
    assert "Host" in answer.json()["message"]
    assert upstream.count() == 0


# --- what proxy mode says to caches in between ---------------------------------------


def test_cache_control__the_upstreams_own_on_every_form_of_a_cached_answer(
    proxy: Server, upstream: FakeUpstream
) -> None:
    said = "no-cache, private, max-age=0"
    with upstream.behaving(listing=SIZE, headers=(("Cache-Control", said),)):
        miss = proxy.client.get("/leads?per_page=5", headers=A)
        hit = proxy.client.get("/leads?per_page=5", headers=A)
        zipped = proxy.client.get("/leads?per_page=5", headers={**A, "Accept-Encoding": "gzip"})
        etag = hit.headers["etag"]
        not_modified = proxy.client.get("/leads?per_page=5", headers={**A, "If-None-Match": etag})
    assert (miss.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
    assert not_modified.status_code == 304
    for answer in (miss, hit, zipped, not_modified):
        assert answer.headers.get_list("cache-control") == [said]


def test_cache_control__private_when_the_upstream_says_nothing(
    proxy: Server, upstream: FakeUpstream
) -> None:
    with upstream.behaving(listing=SIZE):
        proxy.client.get("/leads", headers=A)
        hit = proxy.client.get("/leads", headers=A)
    assert hit.headers["x-cache"] == "HIT"
    assert hit.headers.get_list("cache-control") == ["no-cache, private"]


def test_headers__a_passed_on_429_has_one_date_and_one_server(
    proxy: Server, upstream: FakeUpstream, http_server: str
) -> None:
    sent = (("Date", "Mon, 01 Jan 2001 00:00:00 GMT"), ("Server", "upstream/1.0"))
    with upstream.behaving(mode="ratelimit", retry_after="30", headers=sent):
        limited = proxy.client.get("/leads", headers=A)
    assert limited.status_code == 429
    assert len(limited.headers.get_list("date")) == 1
    assert limited.headers.get_list("server") == [http_server]


@pytest.mark.parametrize(
    ("said", "sent"),
    [
        ((("Cache-Control", "public, max-age=60"),), "private, public, max-age=60"),
        ((("Cache-Control", "no-store"), ("Cache-Control", "max-age=5")), "no-store, max-age=5"),
    ],
)
def test_cache_control__a_keys_answer_is_never_left_to_shared_caches(
    proxy: Server, upstream: FakeUpstream, said: tuple[tuple[str, str], ...], sent: str
) -> None:
    with upstream.behaving(listing=SIZE, headers=said):
        proxy.client.get("/leads", headers=A)
        hit = proxy.client.get("/leads", headers=A)
    assert hit.headers["x-cache"] == "HIT"
    assert hit.headers.get_list("cache-control") == [sent]
