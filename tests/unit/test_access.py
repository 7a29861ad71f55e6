"""The access-line buffer (lines kept in order, written when full, each second, at exit)
and the lines the observer gives it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator, Mapping
from time import perf_counter

import pytest

from leads_proxy.http import keys
from leads_proxy.http.keys import fingerprint_of, key_fingerprint, use_secret
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head
from leads_proxy.http.service import Served
from leads_proxy.observe.access import AccessLog, uvicorn_line
from leads_proxy.observe.observer import LINES_KEPT, Observer
from tests.fakes import until


def test_access__lines_wait_in_the_buffer_until_flushed() -> None:
    out = io.StringIO()
    access = AccessLog(out, max_lines=100)
    access.line("one")
    access.line("two")
    assert out.getvalue() == ""
    access.flush()
    assert out.getvalue() == "one\ntwo\n"
    access.flush()
    assert out.getvalue() == "one\ntwo\n"


def test_access__a_full_buffer_is_written_at_once() -> None:
    out = io.StringIO()
    access = AccessLog(out, max_lines=3)
    for n in range(7):
        access.line(str(n))
    assert out.getvalue() == "0\n1\n2\n3\n4\n5\n"
    access.flush()
    assert out.getvalue().splitlines() == [str(n) for n in range(7)]


def test_access__the_flusher_writes_every_period_and_on_its_way_out() -> None:
    out = io.StringIO()
    access = AccessLog(out, flush_every=0.01)

    async def scenario() -> None:
        flusher = asyncio.create_task(access.run())
        access.line("soon")
        await until(out.getvalue)
        access.line("at exit")
        flusher.cancel()
        await asyncio.gather(flusher, return_exceptions=True)

    asyncio.run(scenario())
    assert out.getvalue() == "soon\nat exit\n"


def test_access__uvicorn_line_is_uvicorns_default_format() -> None:
    scope = {
        "client": ("127.0.0.1", 51234),
        "http_version": "1.1",
    }
    line = uvicorn_line(scope, "HEAD", "/api/user/leads", b"status=completed", 200)
    assert line == (
        'INFO:     127.0.0.1:51234 - "HEAD /api/user/leads?status=completed HTTP/1.1" 200 OK'
    )
    assert uvicorn_line(scope, "GET", "/leads", b"", 599).endswith('"GET /leads HTTP/1.1" 599 ')


def test_fast_leads__an_unexpected_error_is_a_json_500() -> None:
    from leads_proxy.edge.asgi import FastLeads  # noqa: PLC0415
    from leads_proxy.http.request import Incoming  # noqa: PLC0415

    class Broken:
        def hot(self, head: Head) -> Served | None:
            return None

        async def answer(self, incoming: Incoming) -> Served:
            raise RuntimeError("a bug")

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        return {}

    async def nothing(scope: object, receive: object, send: object) -> None:
        raise AssertionError("the leads listing never reaches the wrapped app")

    scope = {"type": "http", "method": "GET", "path": "/leads", "query_string": b"",
             "headers": [(b"host", b"localhost")], "http_version": "1.1"}  # fmt: skip
    leads = FastLeads(nothing, Broken(), observer=Observer())
    asyncio.run(leads(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 500
    assert (b"content-type", b"application/json") in sent[0]["headers"]  # type: ignore[operator]
    assert sent[1]["body"] == b'{"message":"Server Error"}'


def _observed(*answers: tuple[Mapping[str, object], Head, int, Served]) -> list[str]:
    access = AccessLog(io.StringIO(), max_lines=10_000)
    observer = Observer(access=access)
    for scope, head, status, served in answers:
        observer.saw(scope, head, status, served, perf_counter())
    return list(access._lines)


def _head(authorization: bytes | None = None, method: str = "GET", query: bytes = b"") -> Head:
    headers = [(b"authorization", authorization)] if authorization else []
    return Head.read(method, "/api/user/leads", query, headers)


def test_observer__a_remembered_line_is_the_line_of_that_very_answer() -> None:
    one, two = {"client": ("127.0.0.1", 1111)}, {"client": ("127.0.0.1", 2222)}
    ok = Served(Reply.json(200, b"{}"))
    hit = Served(Reply.json(200, b"{}"), "HIT")
    lines = _observed(
        (one, _head(), 200, ok),
        (one, _head(), 200, ok),
        (two, _head(), 200, ok),  # another connection
        (one, _head(method="HEAD"), 200, ok),
        (one, _head(query=b"page=2"), 200, ok),
        (one, _head(), 404, ok),
        (one, _head(b"Bearer a"), 200, hit),
        (one, _head(b"Bearer a"), 200, hit),
        (one, _head(b"Bearer b"), 200, hit),  # another key
        (one, _head(b"Bearer a"), 304, hit),
        (one, _head(b"Bearer a"), 200, Served(Reply.json(200, b"{}"), "MISS", 0.0123)),
    )
    assert lines == [
        'INFO:     127.0.0.1:1111 - "GET /api/user/leads HTTP/1.1" 200 OK',
        'INFO:     127.0.0.1:1111 - "GET /api/user/leads HTTP/1.1" 200 OK',
        'INFO:     127.0.0.1:2222 - "GET /api/user/leads HTTP/1.1" 200 OK',
        'INFO:     127.0.0.1:1111 - "HEAD /api/user/leads HTTP/1.1" 200 OK',
        'INFO:     127.0.0.1:1111 - "GET /api/user/leads?page=2 HTTP/1.1" 200 OK',
        'INFO:     127.0.0.1:1111 - "GET /api/user/leads HTTP/1.1" 404 Not Found',
        f"GET /api/user/leads 200 HIT upstream=- key={fingerprint_of(b'Bearer a')}",
        f"GET /api/user/leads 200 HIT upstream=- key={fingerprint_of(b'Bearer a')}",
        f"GET /api/user/leads 200 HIT upstream=- key={fingerprint_of(b'Bearer b')}",
        f"GET /api/user/leads 304 HIT upstream=- key={fingerprint_of(b'Bearer a')}",
        f"GET /api/user/leads 200 MISS upstream=12.3ms key={fingerprint_of(b'Bearer a')}",
    ]


def test_observer__remembers_a_bounded_number_of_lines() -> None:
    access = AccessLog(io.StringIO(), max_lines=10_000)
    observer = Observer(access=access)
    hit = Served(Reply.json(200, b"{}"), "HIT")
    for n in range(LINES_KEPT * 3):
        observer.saw({}, _head(b"Bearer %d" % n), 200, hit, perf_counter())
    assert len(observer._lines) <= LINES_KEPT
    assert len(access._lines) == LINES_KEPT * 3


@pytest.fixture
def own_secret() -> Iterator[None]:
    """The test's own fingerprint secret, the process's given back after."""
    before = keys._shown_key[0]
    yield
    keys._shown_key[0] = before
    fingerprint_of.clear()


@pytest.mark.usefixtures("own_secret")
def test_fingerprints__are_keyed_by_the_deployments_secret() -> None:
    use_secret(b"one deployment")
    one = fingerprint_of(b"Bearer 1|abc")
    use_secret(b"another deployment")
    another = fingerprint_of(b"Bearer 1|abc")
    use_secret(b"one deployment")
    assert fingerprint_of(b"Bearer 1|abc") == one != another
    assert one != key_fingerprint(b"1|abc")  # no plain digest a dictionary finds
    assert fingerprint_of(b"Bearer 1|abd") != one
