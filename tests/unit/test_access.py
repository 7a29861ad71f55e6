"""The access-line buffer: lines kept in order, written when full, each second, at exit."""

from __future__ import annotations

import asyncio
import io

from leads_proxy.observe.access import AccessLog, uvicorn_line
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
    from leads_proxy.http.request import Head, Incoming  # noqa: PLC0415
    from leads_proxy.http.service import Served  # noqa: PLC0415
    from leads_proxy.observe.observer import Observer  # noqa: PLC0415

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

    scope = {"type": "http", "method": "GET", "path": "/leads", "query_string": b"", "headers": []}
    leads = FastLeads(nothing, Broken(), observer=Observer())
    asyncio.run(leads(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 500
    assert (b"content-type", b"application/json") in sent[0]["headers"]  # type: ignore[operator]
    assert sent[1]["body"] == b'{"message":"Server Error"}'
