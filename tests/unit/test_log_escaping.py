"""What the access lines and the journal show of a hostile request: escaped, masked.

Text lines escape control characters, line separators, quotes and backslashes
as nginx does (`\\x1B`); a client field that is not an IP address is one
escaped token; a phone number anywhere in a path or a query keeps only its
last 2 digits, the same way in the journal, text and JSON lines.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head
from leads_proxy.http.service import Served
from leads_proxy.observe.access import AccessLog
from leads_proxy.observe.journal import Journal
from leads_proxy.observe.observer import Observer

AUTH = ((b"authorization", b"Bearer 1|escaping-secret-key"),)
PHONE_PATH = "/api/user/lead/by-phone/+12025550177"
MASKED_PATH = "/api/user/lead/by-phone/+*********77"
HIT = Served(Reply(200, ()), "HIT")
MOCK = Served.of_mock(Reply(200, ((b"x-mock-source", b"emulated"),)))
FORWARDED = Served(Reply(200, ()), "BYPASS", 0.01, forwarded=True)


def scope(client: tuple[str, int] = ("127.0.0.1", 50000)) -> dict[str, Any]:
    return {"client": client, "http_version": "1.1"}


def logged(
    head: Head,
    served: Served | None,
    *,
    json_lines: bool = False,
    client: tuple[str, int] = ("127.0.0.1", 50000),
) -> tuple[str, Journal]:
    """The access line one request gets, and the journal it is noted in."""
    out = io.StringIO()
    journal = Journal(10)
    observer = Observer(access=AccessLog(out, json_lines=json_lines), journal=journal)
    observer.saw(scope(client), head, 200, served, time.perf_counter())
    assert observer.access is not None
    observer.access.flush()
    return out.getvalue(), journal


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1B[2J"),
        ("a\x0bb", "a\\x0Bb"),
        ("a\u2028b", "a\\u2028b"),
        ("a\x85b", "a\\x85b"),
        ("a\rb\nc", "a\\x0Db\\x0Ac"),
        ('a"b\\c', "a\\x22b\\x5Cc"),
        ("a\x7fb", "a\\x7Fb"),
    ],
    ids=["escape", "vt", "u2028", "nel", "crlf", "quote-backslash", "del"],
)
def test_text_lines__a_decoded_path_is_escaped_as_nginx_escapes(raw: str, shown: str) -> None:
    head = Head.read("GET", f"/api/user/leads/{raw}", b"", AUTH)
    for served in (FORWARDED, HIT):
        line, _ = logged(head, served)
        assert line.count("\n") == 1  # one line, ended once
        assert f"/api/user/leads/{shown} 200" in line
        assert line.isprintable() or line[:-1].isprintable()


def test_text_lines__letters_of_other_alphabets_stay_readable() -> None:
    line, _ = logged(Head.read("GET", "/api/user/leads/café", b"", AUTH), HIT)
    assert "/api/user/leads/café 200 HIT" in line


def test_text_lines__a_raw_quote_in_a_query_keeps_the_request_one_quoted_field() -> None:
    head = Head.read("GET", "/api/user/leads", b'status=x" 200 OK "forged', AUTH)
    line, _ = logged(head, MOCK)
    assert line.count('"') == 2
    assert "status=x\\x22 200 OK \\x22forged HTTP/1.1" in line


def test_text_lines__a_forwarded_client_that_is_no_address_cannot_forge_the_line() -> None:
    head = Head.read("GET", "/api/user/leads", b"", AUTH)
    forged = '6.6.6.6 - "GET /_proxy/cache HTTP/1.1" 200 OK\nINFO:     1.2.3.4'
    line, _ = logged(head, MOCK, client=(forged, 0))
    assert line.count("\n") == 1
    assert line.count('"') == 2
    assert line.startswith("INFO:     6.6.6.6\\x20-\\x20\\x22GET")
    # A real address, as a trusted proxy's X-Forwarded-For names it, is shown as it is.
    line, _ = logged(head, MOCK, client=("2001:db8::1", 0))
    assert line.startswith('INFO:     2001:db8::1:0 - "GET /api/user/leads HTTP/1.1" 200')


@pytest.mark.parametrize(
    "served", [FORWARDED, HIT, MOCK, None], ids=["forwarded", "hit", "mock", "route"]
)
@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
def test_phones__masked_in_a_logged_path_everywhere(
    served: Served | None, json_lines: bool
) -> None:
    head = Head.read("GET", PHONE_PATH, b"", AUTH)
    line, journal = logged(head, served, json_lines=json_lines)
    assert "2025550177" not in line
    if json_lines:
        assert json.loads(line)["path"] == MASKED_PATH
    else:
        assert MASKED_PATH in line
    if served is not None:
        (entry,) = journal.entries()
        assert entry["path"] == MASKED_PATH
        assert journal.entries(path=MASKED_PATH) == [entry]


@pytest.mark.parametrize(
    "query",
    [
        b"phone_number=%2B12025550177",
        b"phone_number=+1+(202)+555-0177",
        b"phone_number=%2B1%20%28202%29%20555-0177",
        b"q=12025550177",
        b"12025550177=x",
    ],
)
@pytest.mark.parametrize("served", [MOCK, HIT], ids=["mock", "hit"])
@pytest.mark.parametrize("json_lines", [False, True], ids=["text", "json"])
def test_phones__masked_in_a_logged_query_the_same_way_everywhere(
    query: bytes, served: Served, json_lines: bool
) -> None:
    head = Head.read("GET", "/api/user/leads", query, AUTH)
    line, journal = logged(head, served, json_lines=json_lines)
    (entry,) = journal.entries()
    assert "555" not in line
    assert "0177" not in line  # a proxy text line shows no query at all
    assert "555" not in entry["query"]
    assert "0177" not in entry["query"]
    assert "77" in entry["query"]
    if json_lines:
        assert json.loads(line)["query"] == entry["query"]
    elif served is MOCK:
        assert f"?{entry['query']} HTTP/1.1" in line


def test_phones__a_query_with_none_is_shown_as_it_came() -> None:
    query = b"status=completed&page=2&per_page=50&created_after=2025-06-30&q=a%20b"
    head = Head.read("GET", "/api/user/leads", query, AUTH)
    line, journal = logged(head, MOCK)
    assert journal.entries()[0]["query"] == query.decode()
    assert f"?{query.decode()} HTTP/1.1" in line
