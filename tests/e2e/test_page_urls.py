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
