"""gzip made once, chosen by Accept-Encoding with q-values, one ETag per form."""

from __future__ import annotations

import gzip

import pytest

from leads_proxy.http.encoding import MIN_BYTES, gzip_etag, gzip_of, prefers_gzip
from leads_proxy.http.etag import etag_matches
from leads_proxy.http.reply import Reply

BIG = b"[" + b",".join(b'{"id":%d}' % n for n in range(300)) + b"]"


@pytest.mark.parametrize(
    ("accept_encoding", "gzip_wins"),
    [
        (None, False),
        (b"", False),
        (b"gzip", True),
        (b"GZIP", True),
        (b"gzip, deflate, br, zstd", True),
        (b"br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        (b"gzip;q=0", False),
        (b"gzip; q=0.000", False),
        (b"identity", False),
        (b"gzip;q=0.5, identity", False),  # identity has the higher q
        (b"gzip;q=0.5, identity;q=0.5", True),  # a tie: the smaller body
        (b"*", True),
        (b"*;q=0", False),
        (b"*;q=0, identity", False),
        (b"x-gzip", True),
        (b"deflate, br", False),
        (b"gzip;q=abc", False),  # an unreadable q is no wish
        (b"gzip;q=2", True),  # out of range: read as 1
        (b",,,;;", False),
    ],
)
def test_prefers_gzip__reads_q_values(accept_encoding: bytes | None, gzip_wins: bool) -> None:
    assert prefers_gzip(accept_encoding) is gzip_wins
    assert prefers_gzip(accept_encoding) is gzip_wins  # remembered, the same answer


def test_gzip_of__small_bodies_stay_identity_and_large_ones_are_the_same_bytes_each_time() -> None:
    assert gzip_of(b"x" * (MIN_BYTES - 1)) is None
    made = gzip_of(BIG)
    assert made is not None
    assert made == gzip_of(BIG)  # no timestamp inside: the same body, the same bytes
    assert gzip.decompress(made) == BIG
    assert len(made) < len(BIG) / 3


def test_etags__the_gzip_form_has_its_own_and_either_matches_the_data() -> None:
    assert gzip_etag(b'"abc"') == b'"abc-gzip"'
    assert gzip_etag(b'W/"abc"') == b'W/"abc-gzip"'
    assert etag_matches(b'"abc-gzip"', b'"abc"')
    assert etag_matches(b'"abc"', b'"abc-gzip"')
    assert etag_matches(b'"x", W/"abc-gzip"', b'"abc"')
    assert not etag_matches(b'"abd-gzip"', b'"abc"')


def test_reply__offered_in_gzip_then_chosen_per_client() -> None:
    identity = Reply.json(200, BIG, (b"etag", b'"abc"')).with_gzip(gzip_of(BIG))
    assert (b"vary", b"Accept-Encoding") in identity.headers
    chosen = identity.for_client(b"gzip, br")
    assert chosen.gzipped is None
    assert gzip.decompress(chosen.body) == BIG
    headers = dict(chosen.headers)
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"content-length"] == str(len(chosen.body)).encode()
    assert headers[b"etag"] == b'"abc-gzip"'
    assert identity.for_client(b"identity") is identity
    assert identity.for_client(None) is identity

    not_modified = identity.not_modified()
    assert not_modified.status == 304
    assert dict(not_modified.headers)[b"etag"] == b'"abc"'
    as_gzip = not_modified.for_client(b"gzip")
    assert dict(as_gzip.headers)[b"etag"] == b'"abc-gzip"'
    assert b"content-encoding" not in dict(as_gzip.headers)
    assert as_gzip.body == b""


def test_reply__headers_added_later_go_on_both_forms() -> None:
    identity = Reply.json(200, BIG, (b"etag", b'"abc"')).with_gzip(gzip_of(BIG))
    marked = identity.with_headers((b"preference-applied", b"dynamic=true"), delay=0.5)
    assert marked.delay == 0.5
    for form in (marked, marked.for_client(b"gzip")):
        assert (b"preference-applied", b"dynamic=true") in form.headers
        assert form.delay == 0.5


def test_reply__a_small_body_has_no_gzip_form() -> None:
    small = Reply.json(200, b"[]", (b"etag", b'"e"')).with_gzip(gzip_of(b"[]"))
    assert small.gzipped is None
    assert all(name != b"vary" for name, _ in small.headers)
