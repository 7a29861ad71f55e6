"""Page URLs re-based onto the listing URL the client used (proxy.rebase)."""

from __future__ import annotations

import pytest

from leads_proxy.http.reply import Reply
from leads_proxy.http.service import Served
from leads_proxy.proxy.cache import Entry
from leads_proxy.proxy.rebase import Views, client_listing, listing_url_of, rebased
from leads_proxy.proxy.verdicts import ReadyHits

UPSTREAM = listing_url_of("https://app.sondos-ai.com/api/")


def test_rebased__both_spellings_in_their_own_spelling() -> None:
    body = (
        b'{"path":"https:\\/\\/app.sondos-ai.com\\/api\\/user\\/leads",'
        b'"next":"https://app.sondos-ai.com/api/user/leads?page=2"}'
    )
    out = rebased(body, UPSTREAM, "http://127.0.0.1:8000/leads")
    assert out == (
        b'{"path":"http:\\/\\/127.0.0.1:8000\\/leads","next":"http://127.0.0.1:8000/leads?page=2"}'
    )


def test_rebased__a_body_without_the_upstreams_urls_is_the_same_object() -> None:
    body = b'[{"id":1}]'
    assert rebased(body, UPSTREAM, "http://127.0.0.1:8000/leads") == body


@pytest.mark.parametrize(
    ("scheme", "host", "path", "expected"),
    [
        ("http", b"127.0.0.1:8000", "/leads/", "http://127.0.0.1:8000/leads"),
        (
            "https",
            b"leads.example.com",
            "/api/user/leads",
            "https://leads.example.com/api/user/leads",
        ),
        ("http", b"[::1]:8000", "/leads", "http://[::1]:8000/leads"),
        ("http", b'evil"host', "/leads", None),
        ("http", b"a\\b", "/leads", None),
        ("http", b"a b", "/leads", None),
        ("http", b"", "/leads", None),
        ("http", None, "/leads", None),
        ("http", b"h:123456", "/leads", None),
        ("http", b"h:99999", "/leads", None),
        ("http", b"h:0", "/leads", None),
        ("http", b" h:8000 ", "/leads", "http://h:8000/leads"),
        ("ftp", b"h", "/leads", None),
    ],
)
def test_client_listing__only_hosts_a_url_can_name(
    scheme: str, host: bytes | None, path: str, expected: str | None
) -> None:
    assert client_listing(scheme, host, path) == expected


def _paged(n: int) -> Entry:
    body = b'{"path":"https://app.sondos-ai.com/api/user/leads","n":%d,"pad":"%s"}' % (
        n,
        b"x" * 3000,
    )
    return Entry.build(
        body, etag=b'"e"', content_type=b"application/json", stored_at=0.0,
        fresh_until=10.0, stale_until=20.0, error_until=30.0,
    )  # fmt: skip


def test_views__many_hosts_stay_within_the_byte_bound() -> None:
    # A hostile probe sent 4,096 Host names: the views must not outgrow their bound.
    views = Views("https://app.sondos-ai.com/api", max_bytes=20_000)
    entry = _paged(1)
    for n in range(200):
        seen = views.of(f"http://h{n}.example/leads").view(entry)
        assert seen.body.startswith(b'{"path":"http://h%d.example/leads"' % n)
    assert 0 < views._kept.currsize <= 20_000
    again = views.of("http://h199.example/leads")
    assert again.view(entry) is again.view(entry)  # the newest is kept


def test_views__a_view_is_never_given_for_another_entry() -> None:
    views = Views("https://app.sondos-ai.com/api", max_bytes=1_000_000)
    first, second = _paged(1), _paged(2)
    client = views.of("http://127.0.0.1:8000/leads")
    assert b'"n":1' in client.view(first).body
    assert b'"n":2' in client.view(second).body


def test_ready_hits__hold_no_more_bytes_than_their_bound() -> None:
    ready = ReadyHits(max_bytes=1_000)
    for n in range(50):
        served = Served(Reply.json(200, b"x" * 400))
        ready.keep((b"a", b"%d" % n), served, until=10.0, generation=0)
        assert ready._bytes <= 1_000
    assert ready.get((b"a", b"49"), 0.0, 0) is not None
