"""Replies built from decisions: status, bytes, Cache-Status, X-Cache, Age."""

from __future__ import annotations

import pytest

from leads_proxy.proxy import verdicts
from leads_proxy.proxy.exchange import Answer, UpstreamTimeout
from leads_proxy.proxy.policy import Filled, Fresh, Hit, Stale, TooMany
from tests.fakes import entry, header

STORED = entry(1000.0)  # fresh until 1030


def test_hit__ttl_and_age_follow_the_clock() -> None:
    reply = verdicts.hit(STORED, 1012.0, None)
    assert reply.status == 200
    assert reply.body == STORED.body
    assert header(reply, b"cache-status") == "leads-proxy; hit; ttl=18"
    assert header(reply, b"age") == "12"
    assert header(reply, b"x-cache") == "HIT"


def test_hit__hits_in_one_second_share_one_reply_and_the_next_second_makes_another() -> None:
    stored = entry(1000.0)
    first = verdicts.hit(stored, 1012.1, None)
    assert verdicts.hit(stored, 1012.9, None) is first
    later = verdicts.hit(stored, 1013.0, None)
    assert later is not first
    assert header(later, b"age") == "13"


@pytest.mark.parametrize(
    ("if_none_match", "status"),
    [(STORED.etag, 304), (b"W/" + STORED.etag, 304), (b"*", 304), (b'"other"', 200)],
)
def test_hit__if_none_match(if_none_match: bytes, status: int) -> None:
    reply = verdicts.hit(STORED, 1001.0, if_none_match)
    assert reply.status == status
    assert (reply.body == b"") is (status == 304)
    assert header(reply, b"etag") == STORED.etag.decode()


@pytest.mark.parametrize(
    ("decision", "cache_status"),
    [
        (
            Stale(STORED, "stale-while-revalidate", refresh=True),
            "leads-proxy; hit; ttl=-10; detail=stale-while-revalidate",
        ),
        (
            Stale(STORED, "stale-if-error", upstream_status=503),
            "leads-proxy; fwd=stale; fwd-status=503; ttl=-10; detail=stale-if-error",
        ),
        (Stale(STORED, "rate-limited"), "leads-proxy; fwd=stale; ttl=-10; detail=rate-limited"),
    ],
)
def test_stale__says_why(decision: Stale, cache_status: str) -> None:
    reply = verdicts.stale(decision, 1040.0, None)
    assert header(reply, b"cache-status") == cache_status
    assert header(reply, b"x-cache") == "STALE"
    assert header(reply, b"age") == "40"


@pytest.mark.parametrize(
    ("filled", "no_cache", "cache_status"),
    [
        (Filled(STORED, stored=True), False, "leads-proxy; fwd=miss; fwd-status=200; stored=?1"),
        (Filled(STORED, stored=False), True, "leads-proxy; fwd=request; fwd-status=200"),
        (
            Filled(STORED, stored=True, by_peer=True),
            False,
            "leads-proxy; fwd=miss; fwd-status=200; stored=?1; detail=filled-by-peer",
        ),
    ],
)
def test_fresh__says_how_it_was_filled(filled: Filled, no_cache: bool, cache_status: str) -> None:
    reply = verdicts.fresh(Fresh(filled, no_cache=no_cache), 1000.0, None)
    assert header(reply, b"cache-status") == cache_status
    assert header(reply, b"x-cache") == "MISS"


@pytest.mark.parametrize(("left", "retry_after"), [(0.2, "1"), (4.2, "5"), (30.0, "30")])
def test_too_many__tells_whole_seconds_left(left: float, retry_after: str) -> None:
    upstream_429 = Answer(429, [("Retry-After", "999"), ("X-Other", "kept")], b"{}", 0.0)
    for answer in (None, upstream_429):
        reply = verdicts.too_many(TooMany(left, answer))
        assert reply.status == 429
        assert [v for k, v in reply.headers if k == b"retry-after"] == [retry_after.encode()]
    assert header(verdicts.too_many(TooMany(left, upstream_429)), b"x-other") == "kept"


def test_unserved__a_sentence_with_the_status_of_the_failure() -> None:
    reply = verdicts.unserved(UpstreamTimeout("the upstream did not answer within 10 s"))
    assert reply.status == 504
    assert reply.body == (
        b'{"message":"The upstream did not answer within 10 s, and no cached copy can be served."}'
    )
    assert header(reply, b"cache-status") == "leads-proxy; fwd=miss; detail=timeout"


@pytest.mark.parametrize(
    ("decision", "label"),
    [(Hit(STORED), "HIT"), (Stale(STORED, "rate-limited"), "STALE"), (TooMany(1.0), "MISS")],
)
def test_label__one_per_kind_of_answer(decision: Hit | Stale | TooMany, label: str) -> None:
    assert verdicts.label(decision) == label
