"""Page URLs re-based onto the listing URL the client used (proxy.rebase)."""

from __future__ import annotations

import pytest

from leads_proxy.proxy.rebase import client_listing, listing_url_of, rebased

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
        ("ftp", b"h", "/leads", None),
    ],
)
def test_client_listing__only_hosts_a_url_can_name(
    scheme: str, host: bytes | None, path: str, expected: str | None
) -> None:
    assert client_listing(scheme, host, path) == expected
