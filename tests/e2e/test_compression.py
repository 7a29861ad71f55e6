"""gzip for clients that ask, through real servers: the bytes on the wire, one
ETag per form and 304s for each, small bodies left as they are."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, clean_env

GZIP = {**AUTH, "Accept-Encoding": "gzip"}
IDENTITY = {**AUTH, "Accept-Encoding": "identity"}
LARGE = {"Prefer": "example=large"}  # 10,000 generated leads


def raw(client: httpx.Client, path: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """The answer and its body as it came over the wire (not decoded)."""
    with client.stream("GET", path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_gzip__a_10000_lead_answer_is_sent_compressed_to_who_asks(server: Server) -> None:
    plain, plain_body = raw(server.client, "/api/user/leads", {**IDENTITY, **LARGE})
    packed, packed_body = raw(server.client, "/api/user/leads", {**GZIP, **LARGE})
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) == len(packed_body)
    assert gzip.decompress(packed_body) == plain_body
    assert len(packed_body) < len(plain_body) / 4, (len(packed_body), len(plain_body))
    assert plain.headers["vary"] == packed.headers["vary"] == "Accept-Encoding"
    assert packed.headers["etag"] != plain.headers["etag"]
    assert packed.headers["preference-applied"] == "example=large"


@pytest.mark.parametrize("path", ["/api/user/leads", "/api/user/leads?per_page=20&page=1"])
def test_gzip__each_form_has_its_etag_and_its_304(server: Server, path: str) -> None:
    for headers in (GZIP, IDENTITY):
        first, _ = raw(server.client, path, headers)
        etag = first.headers["etag"]
        again, body = raw(server.client, path, {**headers, "If-None-Match": etag})
        assert again.status_code == 304
        assert body == b""
        assert again.headers["etag"] == etag
        assert again.headers["vary"] == "Accept-Encoding"
    gzip_etag = raw(server.client, path, GZIP)[0].headers["etag"]
    # The same data under the other form's tag is still not modified.
    crossed, _ = raw(server.client, path, {**IDENTITY, "If-None-Match": gzip_etag})
    assert crossed.status_code == 304


def test_gzip__a_small_answer_stays_identity(server: Server) -> None:
    small, body = raw(server.client, "/api/user/leads?phone_number=99999999999", GZIP)
    assert small.status_code == 200
    assert len(body) < 1024
    assert "content-encoding" not in small.headers
    assert "vary" not in small.headers


def test_gzip__q_values_choose(server: Server) -> None:
    refused, _ = raw(server.client, "/api/user/leads", {**AUTH, "Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    weighed = {**AUTH, "Accept-Encoding": "br;q=1, gzip;q=0.5, identity;q=0.1"}
    assert raw(server.client, "/api/user/leads", weighed)[0].headers["content-encoding"] == "gzip"


def test_gzip__proxy_hits_in_either_form_come_from_one_fill(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    with upstream.behaving(leads=500):
        miss, miss_body = raw(proxy.client, "/api/user/leads", IDENTITY)
        hit, hit_body = raw(proxy.client, "/api/user/leads", GZIP)
    assert miss.headers["x-cache"] == "MISS"
    assert hit.headers["x-cache"] == "HIT"
    assert hit.headers["content-encoding"] == "gzip"
    assert gzip.decompress(hit_body) == miss_body
    assert upstream.count() == 1
    assert hit.headers["etag"] == miss.headers["etag"][:-1] + '-gzip"'
    asked_again = {**GZIP, "If-None-Match": hit.headers["etag"]}
    not_modified, _ = raw(proxy.client, "/api/user/leads", asked_again)
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == hit.headers["etag"]
    assert not_modified.headers["x-cache"] == "HIT"
