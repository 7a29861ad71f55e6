"""Mock mode's replay: which recording answers a request, and the answer it makes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from leads_proxy.fixtures.recordings import UPSTREAM, Recording
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.http.etag import etag_of
from leads_proxy.http.keys import key_fingerprint
from leads_proxy.mock.replay import Replay

ALICE, BOB, CAROL = b"1|alice-key", b"2|bob-key", b"3|carol-key"
BASE = "http://127.0.0.1:8000/api"


def page(n: int, leads: int = 1) -> bytes:
    """A stored paginator whose links name the upstream, as record mode keeps them."""
    data = {
        "current_page": n,
        "data": [{**EXAMPLE_LEAD, "id": n * 100 + i} for i in range(leads)],
        "next_page_url": f"{UPSTREAM}/user/leads?page={n + 1}",
    }
    return json.dumps(data).encode()


def recording(name: str, query: str, key: bytes | None, body: bytes | None = None) -> Recording:
    fingerprint = key_fingerprint(key) if key is not None else None
    return Recording(name, query, fingerprint, body or page(1), Path(f"recordings/{name}.json"))


def names(replay: Replay, query: bytes, token: bytes | None) -> tuple[str, str] | None:
    """Which recording answered (by its page number) and for whom, or None."""
    reply = replay.answer(query, token, BASE)
    if reply is None:
        return None
    headers = dict(reply.headers)
    assert headers[b"x-mock-source"] == b"recorded"
    number = json.loads(reply.body)["current_page"]
    return f"page-{number}", headers[b"x-mock-recorded-for"].decode()


TWO_KEYS = [
    recording("alice", "status=new", ALICE, page(1)),
    recording("bob", "status=new", BOB, page(2)),
    recording("bob-only", "status=old", BOB, page(3)),
]


@pytest.mark.parametrize(
    ("recordings", "query", "token", "found"),
    [
        pytest.param(TWO_KEYS, b"status=new", ALICE, ("page-1", "this-key"), id="this-key"),
        pytest.param(TWO_KEYS, b"status=new", BOB, ("page-2", "this-key"), id="each-its-own"),
        pytest.param(TWO_KEYS, b"status=new", CAROL, None, id="two-keys-a-third-gets-none"),
        pytest.param(TWO_KEYS, b"status=old", ALICE, None, id="two-keys-no-borrowing"),
        pytest.param(TWO_KEYS, b"status=new", None, None, id="no-key"),
        pytest.param(TWO_KEYS, b"status=gone", ALICE, None, id="unrecorded-query"),
        pytest.param(
            [recording("a", "status=new", ALICE)], b"status=new", CAROL,
            ("page-1", "another-key"), id="one-key-answers-any",
        ),
        pytest.param(
            [recording("a", "status=new", ALICE)], b"status=new", None,
            ("page-1", "another-key"), id="one-key-answers-none-too",
        ),
        pytest.param(
            [*TWO_KEYS, recording("old", "status=old", None, page(4))], b"status=old", CAROL,
            ("page-4", "any-key"), id="format-1-answers-any",
        ),
        pytest.param(
            [recording("old", "status=new", None, page(4)), recording("a", "status=new", ALICE)],
            b"status=new", ALICE, ("page-1", "this-key"), id="this-key-before-format-1",
        ),
    ],
)  # fmt: skip
def test_answer__the_recording_for_this_query_and_key(
    recordings: list[Recording], query: bytes, token: bytes | None, found: tuple[str, str] | None
) -> None:
    assert names(Replay(recordings), query, token) == found


@pytest.mark.parametrize(
    "query",
    [
        b"page=2&status=new",
        b"status=new&page=2",
        b"status=new&page=1&page=2",
        b"page=%32&status=new",
    ],
    ids=["canonical", "reordered", "repeated-last-wins", "percent-encoded"],
)
def test_answer__any_spelling_of_the_recorded_query(query: bytes) -> None:
    replay = Replay([recording("a", "page=2&status=new", ALICE)])
    assert replay.covers(query)
    assert names(replay, query, ALICE) == ("page-1", "this-key")


def test_answer__the_upstream_is_rebased_onto_the_server_asked() -> None:
    replay = Replay([recording("a", "", ALICE)])
    here = replay.answer(b"", ALICE, "http://127.0.0.1:8000/api")
    there = replay.answer(b"", ALICE, "https://leads.test/api/")
    assert here is not None
    assert there is not None
    assert json.loads(here.body)["next_page_url"] == "http://127.0.0.1:8000/api/user/leads?page=2"
    assert json.loads(there.body)["next_page_url"] == "https://leads.test/api/user/leads?page=2"
    assert UPSTREAM.encode() not in here.body
    assert here.etag == etag_of(here.body)
    assert here.etag != there.etag


def test_answer__made_once_per_recording_key_relation_and_base() -> None:
    replay = Replay([recording("a", "", ALICE)])
    first = replay.answer(b"", ALICE, BASE)
    assert first is not None
    assert replay.answer(b"", ALICE, BASE) is first
    assert replay.answer(b"", BOB, BASE) is not first  # told "another-key"
    assert replay.answer(b"", ALICE, "http://other.test/api") is not first


def test_answer__a_large_recording_is_offered_in_gzip_too() -> None:
    small = Replay([recording("a", "", ALICE, page(1, leads=1))]).answer(b"", ALICE, BASE)
    large = Replay([recording("a", "", ALICE, page(1, leads=20))]).answer(b"", ALICE, BASE)
    assert small is not None
    assert large is not None
    assert small.gzipped is None
    assert large.gzipped is not None
    assert gzip.decompress(large.gzipped.body) == large.body
    assert dict(large.gzipped.headers)[b"x-mock-source"] == b"recorded"


def test_refusal__a_404_that_lists_what_was_recorded() -> None:
    replay = Replay(TWO_KEYS, strict=True)
    assert replay.strict
    reply = replay.refusal()
    assert reply.status == 404
    assert dict(reply.headers)[b"x-mock-source"] == b"recorded"
    body = json.loads(reply.body)
    assert body["recorded"] == ["status=new", "status=old"]
    assert "--replay recorded" in body["message"]


def test_replay__without_recordings_is_false_and_covers_nothing() -> None:
    empty = Replay([])
    assert not empty
    assert not empty.covers(b"")
    assert empty.answer(b"", ALICE, BASE) is None
    assert Replay(TWO_KEYS)
    assert not Replay(TWO_KEYS).covers(b"status=gone")
