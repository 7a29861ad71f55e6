"""Requests refused before any work: over-long queries, bad header bytes, path tricks."""

from __future__ import annotations

import json

import pytest

from leads_proxy.http.checks import MAX_QUERY_BYTES, refusal, too_long
from leads_proxy.http.request import Incoming

AUTH = (b"authorization", b"Bearer 1|key")


def test_too_long__up_to_the_limit_passes_one_byte_more_is_a_414() -> None:
    assert too_long(b"a" * MAX_QUERY_BYTES) is None
    assert too_long(b"") is None
    reply = too_long(b"a" * (MAX_QUERY_BYTES + 1))
    assert reply is not None
    assert reply.status == 414
    assert json.loads(reply.body) == {
        "message": f"The query string is too long ({MAX_QUERY_BYTES + 1} bytes; at most 4096)."
    }


def listing(*headers: tuple[bytes, bytes]) -> Incoming:
    return Incoming(headers=list(headers), raw_path=b"/api/user/leads")


def forwarded(raw_path: bytes, path: str, *headers: tuple[bytes, bytes]) -> Incoming:
    return Incoming(method="POST", path=path, raw_path=raw_path, headers=[AUTH, *headers])


@pytest.mark.parametrize(
    ("incoming", "passthrough", "status", "says"),
    [
        pytest.param(listing(AUTH), False, None, None, id="plain-listing"),
        pytest.param(listing(AUTH, AUTH), False, 400, "one Authorization", id="two-keys"),
        pytest.param(listing(AUTH, AUTH), True, 400, "one Authorization", id="two-keys-forwarded"),
        pytest.param(
            listing((b"authorization", b"Bearer 1|\x00")), False, 401, "Unauthenticated",
            id="key-with-a-nul",
        ),
        pytest.param(
            listing((b"authorization", b"Bearer 1|\xe9")), False, 401, "Unauthenticated",
            id="key-not-ascii",
        ),
        pytest.param(
            listing((b"authorization", b"Bearer\t1|a")), False, None, None, id="key-with-a-tab"
        ),
        pytest.param(
            listing(AUTH, (b"accept", b"text/\x7fhtml")), False, 400, "The accept header",
            id="listing-accept-checked",
        ),
        pytest.param(
            listing(AUTH, (b"x-note", b"caf\xe9")), False, None, None, id="listing-others-unread"
        ),
        pytest.param(
            forwarded(b"/api/user/lead", "/api/user/lead", (b"x-note", b"caf\xe9")),
            True, 400, "The x-note header", id="forwarded-every-header-checked",
        ),
        pytest.param(
            forwarded(b"/api/user/lead", "/api/user/lead"), True, None, None, id="forwarded-plain"
        ),
    ],
)  # fmt: skip
def test_refusal__headers(
    incoming: Incoming, passthrough: bool, status: int | None, says: str | None
) -> None:
    reply = refusal(incoming, passthrough=passthrough)
    if status is None:
        assert reply is None
        return
    assert reply is not None
    assert reply.status == status
    assert says is not None
    assert says in json.loads(reply.body)["message"]


@pytest.mark.parametrize(
    ("raw_path", "path", "says"),
    [
        (b"/api/user/lead", "/api/user/lead", None),
        (b"/api/user/../admin", "/api/user/../admin", "a . or .. segment"),
        (b"/api/user/./lead", "/api/user/./lead", "a . or .. segment"),
        (b"/api/user/%2e%2E/admin", "/api/user/../admin", "a . or .. segment"),
        (b"/api/user/%2E", "/api/user/.", "a . or .. segment"),
        (b"/api/user/.../lead", "/api/user/.../lead", None),
        (b"/api/user/a..b", "/api/user/a..b", None),
        (b"/api/user/a\x01", "/api/user/a\x01", "control characters"),
        (b"/api/user/a%0A", "/api/user/a\n", "control characters"),
        (b"/api/user/a%7F", "/api/user/a\x7f", "control characters"),
    ],
    ids=[
        "plain", "dot-dot", "dot", "encoded-dot-dot", "encoded-dot", "three-dots",
        "dots-inside-a-name", "raw-control", "encoded-newline", "encoded-del",
    ],
)  # fmt: skip
def test_refusal__a_forwarded_path_stays_under_api(
    raw_path: bytes, path: str, says: str | None
) -> None:
    reply = refusal(forwarded(raw_path, path), passthrough=True)
    if says is None:
        assert reply is None
        return
    assert reply is not None
    assert reply.status == 400
    assert says in json.loads(reply.body)["message"]


def test_refusal__the_listing_path_is_not_checked_as_a_forwarded_one() -> None:
    # The listing is answered here, never sent on by its path: no segment rules.
    incoming = Incoming(headers=[AUTH], path="/api/user/../leads", raw_path=b"/api/user/../leads")
    assert refusal(incoming, passthrough=False) is None
    assert refusal(incoming, passthrough=True) is not None
