"""What each kept thing really holds is counted against its bound: keys, Host values,
headers and long Authorization headers too, not the bodies alone."""

from __future__ import annotations

import dataclasses
import io
import time

from leads_proxy.fixtures.files import load_fixtures
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head, Incoming
from leads_proxy.http.service import Served
from leads_proxy.mock.service import MockService
from leads_proxy.observe.access import AccessLog
from leads_proxy.observe.journal import Journal
from leads_proxy.observe.observer import Observer
from leads_proxy.proxy.cache import Entry, KeyMaker
from leads_proxy.proxy.rebase import Views
from leads_proxy.proxy.verdicts import ReadyHits
from tests.support import BUNDLED

AUTH = ((b"authorization", b"Bearer 1|accounting-key"),)
HUGE = 60_000
BOUND = 256 * 1024


def test_accounting__mock_ready_answers_count_the_host_they_are_kept_under() -> None:
    service = MockService(load_fixtures(BUNDLED), rendered_cache_bytes=BOUND)
    for n in range(40):
        host = f"h{n}.".encode() + b"a" * HUGE
        headers = (*AUTH, (b"host", host))
        request = Incoming(query=b"status=completed", headers=headers, origin="http://x")
        assert service.reply(request).status == 200
    held = sum(len(host or b"") for _path, _query, host, _scheme in service._answered)
    assert held <= BOUND


def test_accounting__remembered_keys_hold_their_headers_within_a_byte_bound() -> None:
    keys = KeyMaker(b"secret")
    for n in range(300):
        authorization = b"Bearer 1|" + b"k" * HUGE + str(n).encode()
        assert keys.of_request(authorization, b"status=completed") is not None
    held = sum(len(authorization) + len(query) for authorization, query in keys._known)
    assert held <= KeyMaker.REMEMBERED_BYTES


def test_accounting__an_entry_counts_its_headers() -> None:
    long_control = b"private, max-age=0, " + b"x" * HUGE
    entry = Entry.build(
        b"[]", etag=b'"e"', content_type=b"application/json", stored_at=0.0,
        fresh_until=1.0, stale_until=2.0, error_until=3.0, cache_control=long_control,
    )  # fmt: skip
    assert entry.size > HUGE


def test_accounting__a_fill_and_its_stored_entry_share_one_view() -> None:
    views = Views("http://upstream.test/api", 1 << 20)
    body = b'{"path":"http://upstream.test/api/user/leads","data":[]}'
    filled = Entry.build(
        body, etag=b'"e"', content_type=b"application/json", stored_at=0.0,
        fresh_until=1.0, stale_until=2.0, error_until=3.0,
    )  # fmt: skip
    stored = dataclasses.replace(filled, key_bytes=40)  # as the storage keeps it
    rebase = views.of("http://localhost:8000/api/user/leads")
    view = rebase.view(filled)
    assert rebase.view(stored) is view
    held = stored.held(0.5)
    assert rebase.view(held).hot_until == 0.5  # other deadlines: a view of its own


def test_accounting__the_journal_keeps_bounded_values_of_a_huge_request() -> None:
    journal = Journal(10)
    served = Served(Reply(200, ()), "HIT")
    for n in range(10):
        authorization = b"Bearer 1|" + b"k" * HUGE + str(n).encode()
        head = Head.read(
            "GET", "/api/user/leads/" + "p" * HUGE, b"q=" + b"x" * HUGE,
            [(b"authorization", authorization)],
        )  # fmt: skip
        journal.note(head, 414, served, time.perf_counter(), 0.001)
    held = sum(len(raw[3]) + len(raw[4]) + len(raw[5] or "") for raw in journal._raw)
    assert held <= 10 * 9 * 1024
    assert len({entry["key"] for entry in journal.entries()}) == 10  # told apart still


def test_accounting__long_access_lines_are_not_kept_for_reuse() -> None:
    observer = Observer(access=AccessLog(io.StringIO()))
    for n in range(50):
        head = Head.read("GET", "/api/user/leads", b"q=" + b"x" * HUGE + str(n).encode(), AUTH)
        observer.saw({"client": ("127.0.0.1", 1)}, head, 414, None, time.perf_counter())
    held = sum(len(line) for line in observer._lines.values())
    assert held <= 1024 * len(observer._lines)
    assert len(observer._lines) == 0


def test_accounting__ready_hits_count_the_authorization_they_are_kept_under() -> None:
    ready = ReadyHits(BOUND)
    hit = Served(Reply(200, (), b"[]"), "HIT")
    for n in range(40):
        authorization = b"Bearer 1|" + b"k" * HUGE + str(n).encode()
        request = (authorization, b"", b"localhost", "/api/user/leads", "http")
        ready.keep(request, hit, until=1.0, generation=0)
    kept = [request[0] for request in ready._ready]
    assert sum(len(part) for part in kept if isinstance(part, bytes)) <= BOUND
