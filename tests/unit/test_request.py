"""A request's head read once, and Incoming built from an ASGI scope."""

from __future__ import annotations

from typing import Any

import pytest

from leads_proxy.http.request import Head, Incoming


def test_head__each_header_its_first_value_and_the_rest_ignored() -> None:
    head = Head.read(
        "GET",
        "/api/user/leads",
        b"status=new",
        [
            (b"accept", b"application/json"),
            (b"if-none-match", b'"one"'),
            (b"prefer", b"example=empty"),
            (b"if-none-match", b'"two"'),
            (b"prefer", b"code=429"),
            (b"accept-encoding", b"gzip"),
            (b"origin", b"http://app.test"),
            (b"host", b"leads.test:8000"),
            (b"cache-control", b"no-cache"),
        ],
    )
    assert (head.method, head.path, head.query) == ("GET", "/api/user/leads", b"status=new")
    assert head.if_none_match == b'"one"'
    assert head.prefer == b"example=empty"
    assert head.accept_encoding == b"gzip"
    assert head.origin == b"http://app.test"
    assert head.host == b"leads.test:8000"
    assert head.cache_control == b"no-cache"
    assert (head.authorization, head.authorizations) == (None, 0)


@pytest.mark.parametrize(
    ("values", "first", "count"),
    [
        ([], None, 0),
        ([b"Bearer 1|a"], b"Bearer 1|a", 1),
        ([b"Bearer 1|a", b"Bearer 2|b"], b"Bearer 1|a", 2),
        ([b"Bearer 1|a", b"Bearer 1|a", b"Bearer 1|a"], b"Bearer 1|a", 3),
    ],
    ids=["none", "one", "two", "three-the-same"],
)
def test_head__every_authorization_header_is_counted(
    values: list[bytes], first: bytes | None, count: int
) -> None:
    head = Head.read("GET", "/leads", b"", [(b"authorization", value) for value in values])
    assert (head.authorization, head.authorizations) == (first, count)


def test_head__names_are_matched_as_sent_in_lower_case() -> None:
    # ASGI servers lower-case header names; the head does not do it again.
    head = Head.read("GET", "/leads", b"", [(b"Authorization", b"Bearer 1|a")])
    assert (head.authorization, head.authorizations) == (None, 0)


def scope(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/api/user/leads",
        "raw_path": b"/api/user/leads",
        "query_string": b"page=2",
        "headers": [(b"host", b"leads.test:8080")],
        "server": ("10.0.0.1", 9000),
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "origin"),
    [
        ({}, "http://leads.test:8080"),
        ({"scheme": "https"}, "https://leads.test:8080"),
        ({"headers": []}, "http://10.0.0.1:9000"),
        ({"headers": [], "server": None}, "http://127.0.0.1:80"),
    ],
    ids=["host-header", "https", "server-without-host", "neither"],
)
def test_from_scope__origin_from_host_or_else_the_server(
    changes: dict[str, Any], origin: str
) -> None:
    incoming = Incoming.from_scope(scope(**changes))
    assert incoming.origin == origin
    assert incoming.url == origin + "/api/user/leads"


def test_from_scope__values_and_head_come_from_the_scope() -> None:
    given = scope(
        method="POST",
        path="/api/user/a?b",
        raw_path=b"/api/user/a%3Fb",
        headers=[(b"host", b"h"), (b"prefer", b"delay=1")],
    )
    incoming = Incoming.from_scope(given, b"body")
    assert (incoming.method, incoming.path, incoming.query) == ("POST", "/api/user/a?b", b"page=2")
    assert incoming.raw_path == b"/api/user/a%3Fb"
    assert incoming.body == b"body"
    assert incoming.head.prefer == b"delay=1"
    assert incoming.head.headers is incoming.headers


def test_from_scope__without_a_raw_path_the_path_stands_for_it() -> None:
    incoming = Incoming.from_scope(scope(raw_path=None, path="/api/user/é"))
    assert incoming.raw_path == "/api/user/é".encode()


def test_from_scope__a_head_given_is_used_as_it_is() -> None:
    given = scope()
    head = Head.of(given)._replace(path="/api/user/leads-trimmed")
    incoming = Incoming.from_scope(given, head=head)
    assert incoming.head is head
    assert incoming.path == "/api/user/leads-trimmed"


def test_incoming__reads_its_own_head_unless_given_the_one_of_its_headers() -> None:
    headers = [(b"authorization", b"Bearer 1|a"), (b"accept", b"text/csv")]
    incoming = Incoming(headers=headers)
    assert incoming.head.authorization == b"Bearer 1|a"
    stale = Head.read("GET", "/leads", b"", [])  # a head of other headers is read again
    again = Incoming(headers=headers, head=stale)
    assert again.head is not stale
    assert again.head.authorization == b"Bearer 1|a"


def test_incoming__other_headers_and_the_query_pairs() -> None:
    incoming = Incoming(
        query=b"status=new&phone=%2B971&empty=",
        headers=[(b"accept", b"text/csv"), (b"x-tag", b"a"), (b"x-tag", b"\xe9")],
    )
    assert incoming.header(b"accept") == b"text/csv"
    assert incoming.header(b"x-missing") is None
    assert incoming.header_values(b"x-tag") == ["a", "é"]
    assert incoming.query_pairs == [("status", "new"), ("phone", "+971"), ("empty", "")]
