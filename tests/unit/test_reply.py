"""Reply: a whole answer of ready bytes, its gzip form, its 304, the form a client gets."""

from __future__ import annotations

import gzip
import json

import pytest

from leads_proxy.http.encoding import VARY, gzip_of
from leads_proxy.http.etag import etag_of
from leads_proxy.http.reply import JSON_TYPE, Reply

BODY = json.dumps([{"id": n, "name": "lead " * 20} for n in range(40)]).encode()
ETAG = etag_of(BODY)


def offered() -> Reply:
    """A 200 with an ETag, offered in both forms, as a listing is."""
    return Reply.json(200, BODY, (b"etag", ETAG)).with_gzip(gzip_of(BODY))


def test_json__sets_the_type_and_the_exact_length_then_the_extra_headers() -> None:
    reply = Reply.json(201, b'{"a":1}', (b"x-one", b"1"), (b"x-two", b"2"))
    assert reply.status == 201
    assert reply.headers == (
        JSON_TYPE,
        (b"content-length", b"7"),
        (b"x-one", b"1"),
        (b"x-two", b"2"),
    )
    assert reply.body == b'{"a":1}'
    assert (reply.delay, reply.gzipped) == (0.0, None)


def test_message__is_compact_utf8_json() -> None:
    reply = Reply.message(422, {"message": "Ünïcode stays", "errors": {"a": ["b"]}})
    assert reply.body == '{"message":"Ünïcode stays","errors":{"a":["b"]}}'.encode()
    assert dict(reply.headers)[b"content-length"] == str(len(reply.body)).encode()


def test_with_headers__adds_to_both_forms_and_keeps_the_rest() -> None:
    reply = offered().with_headers((b"x-cache", b"HIT"))
    assert reply.headers[-1] == (b"x-cache", b"HIT")
    assert reply.gzipped is not None
    assert reply.gzipped.headers[-1] == (b"x-cache", b"HIT")
    assert (reply.status, reply.body) == (200, BODY)
    assert reply.gzipped.body == offered().gzipped.body  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("before", "given", "after"),
    [(0.0, None, 0.0), (0.25, None, 0.25), (0.0, 1.5, 1.5), (0.25, 0.0, 0.0)],
    ids=["none-kept", "kept", "set", "cleared"],
)
def test_with_headers__a_delay_is_kept_unless_another_is_given(
    before: float, given: float | None, after: float
) -> None:
    assert Reply(200, (), b"x", delay=before).with_headers(delay=given).delay == after


def test_with_headers__a_delay_given_is_each_forms() -> None:
    reply = offered().with_headers(delay=0.5)
    assert reply.gzipped is not None
    assert (reply.delay, reply.gzipped.delay) == (0.5, 0.5)


def test_with_gzip__none_is_the_same_reply() -> None:
    reply = Reply.json(200, b"[]")
    assert reply.with_gzip(None) is reply


def test_with_gzip__both_forms_vary_and_the_gzip_one_is_labelled() -> None:
    reply = offered()
    gzipped = reply.gzipped
    assert gzipped is not None
    assert reply.headers[-1] == VARY
    assert b"content-encoding" not in dict(reply.headers)
    assert gzip.decompress(gzipped.body) == BODY
    headers = dict(gzipped.headers)
    assert headers[b"content-encoding"] == b"gzip"
    assert headers[b"vary"] == b"Accept-Encoding"
    assert headers[b"content-length"] == str(len(gzipped.body)).encode()
    assert headers[b"etag"] == ETAG[:-1] + b'-gzip"'
    assert headers[b"content-type"] == b"application/json"
    assert [name for name, _ in gzipped.headers].count(b"vary") == 1


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        (None, False),
        (b"gzip", True),
        (b"gzip, deflate, br", True),
        (b"br", False),
        (b"gzip;q=0", False),
        (b"identity;q=1, gzip;q=0.5", False),
        (b"*", True),
    ],
    ids=["none", "gzip", "browser", "br-only", "gzip-refused", "identity-preferred", "any"],
)
def test_for_client__the_form_accept_encoding_prefers(
    accept_encoding: bytes | None, gzipped: bool
) -> None:
    reply = offered()
    chosen = reply.for_client(accept_encoding)
    assert chosen is (reply.gzipped if gzipped else reply)


def test_for_client__without_a_gzip_form_is_always_identity() -> None:
    reply = Reply.json(200, BODY)
    assert reply.for_client(b"gzip") is reply


def test_not_modified__a_bodiless_304_with_the_validators_of_each_form() -> None:
    reply = offered().with_headers((b"x-cache", b"HIT")).not_modified()
    assert (reply.status, reply.body) == (304, b"")
    names = [name for name, _ in reply.headers]
    assert b"content-type" not in names
    assert b"content-length" not in names
    assert reply.etag == ETAG
    assert (b"x-cache", b"HIT") in reply.headers
    gzipped = reply.gzipped
    assert gzipped is not None
    assert (gzipped.status, gzipped.body) == (304, b"")
    assert b"content-encoding" not in dict(gzipped.headers)
    assert gzipped.etag == ETAG[:-1] + b'-gzip"'
    assert dict(gzipped.headers)[b"vary"] == b"Accept-Encoding"


def test_etag__the_first_etag_header_or_none() -> None:
    assert Reply(200, ((b"x", b"1"), (b"etag", b'"a"'), (b"etag", b'"b"'))).etag == b'"a"'
    assert Reply.json(200, b"[]").etag is None
