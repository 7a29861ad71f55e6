"""Ready listings written by the protocol itself (`edge.ready`), on the guard's fake
transport and loop: no ASGI cycle for them, and the ASGI path for every request they
could not be answered exactly like. The same through real servers:
tests/e2e/test_ready_answers.py."""

from __future__ import annotations

import pytest

from leads_proxy.edge.ready import Wires
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head
from leads_proxy.http.service import Served
from tests.unit.test_guard import BOUND, Connection, long_header

READY = Reply.json(200, b'[{"id":1}]', (b"etag", b'"one"'))
GET = b"GET /leads HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ok\r\n\r\n"


class Leads:
    """What FastLeads gives the protocol: a ready answer for `Bearer ok`, None otherwise."""

    def __init__(self) -> None:
        self.asked: list[Head] = []
        self.observed: list[tuple[str, int]] = []

    def ready(self, head: Head) -> tuple[Served, Reply, float] | None:
        self.asked.append(head)
        if head.authorization != b"Bearer ok":
            return None
        return Served(READY), READY, 0.0

    def observe(self, scope: object, head: Head, served: Served, reply: Reply, _: float) -> None:
        assert isinstance(scope, dict)
        self.observed.append((head.method, reply.status))


def connected() -> tuple[Connection, Leads]:
    leads = Leads()
    connection = Connection(leads=leads)
    connection.state.default_headers = [(b"date", b"Fri, 04 Dec 2026"), (b"server", b"uvicorn")]
    return connection, leads


def answers(connection: Connection) -> list[bytes]:
    written = bytes(connection.transport.written)
    return [b"HTTP/1.1 " + part for part in written.split(b"HTTP/1.1 ")[1:]]


def test_ready__a_listing_is_written_without_an_asgi_cycle() -> None:
    connection, leads = connected()
    connection.send(GET)
    assert connection.started == 0  # no task: the app never saw it
    assert answers(connection) == [
        b"HTTP/1.1 200 OK\r\ndate: Fri, 04 Dec 2026\r\nserver: uvicorn\r\n"
        b'content-type: application/json\r\ncontent-length: 10\r\netag: "one"\r\n\r\n[{"id":1}]'
    ]
    assert leads.observed == [("GET", 200)]
    assert connection.state.total_requests == 1
    (head,) = leads.asked
    assert (head.path, head.query, head.scheme) == ("/leads", b"", "http")
    # The connection is kept alive, and closed after uvicorn's idle timeout.
    assert not connection.transport.closed
    connection.loop.advance(6)
    assert connection.transport.closed


def test_ready__head_is_the_headers_alone_and_every_path_of_the_listing_counts() -> None:
    connection, leads = connected()
    for path in (b"/api/user/leads", b"/api/user/leads/", b"/leads/"):
        connection.send(GET.replace(b"GET /leads", b"GET " + path + b"?page=2"))
    connection.send(GET.replace(b"GET", b"HEAD"))
    assert connection.started == 0
    *gets, head = answers(connection)
    assert len(gets) == 3
    assert all(get.endswith(b'\r\n\r\n[{"id":1}]') for get in gets)
    assert head.endswith(b'etag: "one"\r\n\r\n')
    assert b"content-length: 10\r\n" in head
    assert [(h.method, h.path, h.query) for h in leads.asked][2:] == [
        ("GET", "/leads/", b"page=2"),
        ("HEAD", "/leads", b""),
    ]


def test_ready__pipelined_listings_are_answered_in_turn_with_no_cycle() -> None:
    connection, leads = connected()
    connection.send(GET * 3)
    assert connection.started == 0
    assert len(answers(connection)) == 3
    assert len(leads.observed) == 3


def test_ready__behind_a_request_still_answered_it_waits_its_turn() -> None:
    connection, leads = connected()
    other = b"GET /api/user/campaigns HTTP/1.1\r\nHost: localhost\r\n\r\n"
    connection.send(other + GET)
    # The listing came while the first was with the app: the app answers both, in order.
    assert connection.started == 2
    assert [a.rsplit(b"\r\n", 1)[1] for a in answers(connection)] == [
        b"/api/user/campaigns",
        b"/leads",
    ]
    assert leads.observed == []


def test_ready__the_head_bound_holds_for_the_head_after_one() -> None:
    connection, _ = connected()
    connection.send(GET + long_header(BOUND + 1))
    assert connection.statuses() == [200, 431]
    assert connection.started == 0


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(GET.replace(b"Bearer ok", b"Bearer other"), id="not ready"),
        pytest.param(GET.replace(b"GET /leads", b"POST /leads"), id="POST"),
        pytest.param(GET.replace(b"GET /leads", b"GET /leads/1"), id="another path"),
        pytest.param(GET.replace(b"GET /leads", b"GET /%6Ceads"), id="percent-encoded"),
        pytest.param(GET.replace(b"GET /leads", b"GET http://localhost/leads"), id="absolute"),
        pytest.param(GET.replace(b"HTTP/1.1", b"HTTP/1.0"), id="HTTP/1.0"),
        pytest.param(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"), id="close"),
        pytest.param(GET.replace(b"\r\n\r\n", b"\r\nContent-Length: 2\r\n\r\n{}"), id="a body"),
        pytest.param(
            GET.replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            id="chunked",
        ),
        pytest.param(GET.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"), id="expect"),
        pytest.param(
            GET.replace(b"\r\n\r\n", b"\r\nX-Forwarded-Proto: https\r\n\r\n"), id="forwarded"
        ),
        pytest.param(GET.replace(b"\r\n\r\n", b"\r\nForwarded: for=1.2.3.4\r\n\r\n"), id="rfc7239"),
    ],
)
def test_ready__what_it_cannot_answer_exactly_goes_to_the_app(request_: bytes) -> None:
    connection, leads = connected()
    connection.send(request_)
    assert connection.started == 1
    assert leads.observed == []


def test_ready__a_client_not_reading_is_answered_by_the_app_which_waits_for_it() -> None:
    connection, leads = connected()
    connection.protocol.pause_writing()
    connection.protocol.data_received(GET)
    assert connection.loop.coroutines  # a cycle, which waits to write
    assert leads.observed == []
    assert not connection.transport.written
    for waiting in connection.loop.coroutines:
        waiting.close()


def test_wires__what_they_hold_is_bounded_in_bytes_of_the_bodies_they_name() -> None:
    # Replies made for one request each (CORS headers, say) sharing one ready body.
    wires, body = Wires(entries=4096, body_bytes=10_000), b"x" * 1000
    for n in range(50):
        made = Reply(200, ((b"content-length", b"1000"), (b"x-n", str(n).encode())), body)
        assert wires.lines(made) == b"content-length: 1000\r\nx-n: %d\r\n\r\n" % n
        entries, held = wires.held
        assert held <= 10_000
        assert entries <= 10
    kept = Reply(200, ((b"content-length", b"1000"),), body)
    assert wires.lines(kept) is wires.lines(kept)  # made once
