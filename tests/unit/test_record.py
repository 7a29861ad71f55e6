from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads_proxy.fixtures.record import Recorder, example_name
from leads_proxy.fixtures.recordings import load_recordings, rebased_in
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.http.keys import key_fingerprint
from leads_proxy.mock.query import paginate, parse_query

BODY = json.dumps([EXAMPLE_LEAD]).encode()


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("", "recorded"),
        ("status=completed", "recorded-status-completed"),
        (
            "campaign_id=2&status=reached-max-retries",
            "recorded-campaign-id-2-status-reached-max-retries",
        ),
        ("phone_number=%2B1555", "recorded-phone-number-1555"),
    ],
)
def test_example_name(query: str, name: str) -> None:
    assert example_name(query) == name


def test_example_name__long_queries_stay_short_and_distinct() -> None:
    one, two = example_name("status=" + "a" * 200), example_name("status=" + "a" * 199 + "b")
    assert one != two
    assert len(one) <= 70


@pytest.mark.parametrize(("as_default", "replaced"), [(False, False), (True, True)])
def test_recorder__default_is_replaced_only_when_asked(
    tmp_path: Path, as_default: bool, replaced: bool
) -> None:
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "default.json").write_text("[]\n")
    Recorder(tmp_path, as_default=as_default).record("", BODY, b"1|k")
    default = json.loads((tmp_path / "leads" / "default.json").read_text())
    assert (default == [EXAMPLE_LEAD]) is replaced


UPSTREAM = "https://app.sondos-ai.com/api"


def paginator(url: str = UPSTREAM + "/user/leads") -> bytes:
    """A Laravel paginator as PHP's json_encode writes it: slashes escaped."""
    page = paginate([EXAMPLE_LEAD] * 3, parse_query([("per_page", "2"), ("page", "1")]), url)
    return json.dumps(page).replace("/", "\\/").encode()


def test_recorder__a_paginated_answer_is_kept_whole_with_its_urls_rebased(tmp_path: Path) -> None:
    body = paginator()
    path = Recorder(tmp_path, upstream=UPSTREAM).record("page=1&per_page=2", body, b"1|k")
    assert path is not None
    stored = path.read_bytes()
    assert UPSTREAM.encode() not in stored
    assert UPSTREAM.replace("/", "\\/").encode() not in stored
    # Byte for byte as it came, but for the upstream's base URL (re-based unescaped).
    escaped = UPSTREAM.replace("/", "\\/").encode()
    assert rebased_in(stored, UPSTREAM) == body.replace(escaped, UPSTREAM.encode())
    assert json.loads(stored)["total"] == 3
    assert json.loads(stored)["next_page_url"].startswith("{{upstream}}")
    assert list((tmp_path / "leads").iterdir()) == []  # a page is no default


def test_recorder__the_bytes_are_kept_as_they_came(tmp_path: Path) -> None:
    body = b"[ %s ]" % json.dumps(EXAMPLE_LEAD, indent=4).encode()  # spacing of its own
    path = Recorder(tmp_path).record("status=created", body, b"1|k")
    assert path is not None
    assert path.read_bytes() == body


def test_recorder__each_key_has_its_own_recording_named_by_fingerprint(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    one = recorder.record("status=created", BODY, b"1|key-one")
    two = recorder.record("status=created", BODY, b"2|key-two")
    assert one is not None
    assert two is not None
    assert one != two
    index = json.loads((tmp_path / "recordings.json").read_text())
    assert index["format"] == 2
    entries = index["recordings"]
    assert {entry["key"] for entry in entries.values()} == {
        key_fingerprint(b"1|key-one"),
        key_fingerprint(b"2|key-two"),
    }
    text = (tmp_path / "recordings.json").read_text() + one.read_text() + two.read_text()
    assert "key-one" not in text
    assert "key-two" not in text


def test_recorder__a_format_1_index_is_carried_over(tmp_path: Path) -> None:
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "recorded-status-created.json").write_text(json.dumps([EXAMPLE_LEAD]))
    old = {"recorded-status-created": {"query": "status=created", "leads": 1}}
    (tmp_path / "recordings.json").write_text(json.dumps(old))
    Recorder(tmp_path).record("status=completed", BODY, b"k")
    entries = json.loads((tmp_path / "recordings.json").read_text())["recordings"]
    assert entries["recorded-status-created"]["key"] is None
    assert entries["recorded-status-created"]["file"] == "leads/recorded-status-created.json"
    recordings, problems = load_recordings(tmp_path)
    assert problems == []
    assert {r.query for r in recordings} == {"status=created", "status=completed"}


def lead_with(**variables: object) -> dict[str, object]:
    return {**EXAMPLE_LEAD, "variables": {**EXAMPLE_LEAD["variables"], **variables}}


def upstream_echo(token: str) -> bytes:
    """A listing whose strings hold the token, JSON-escaped as an upstream may (\\/, \\uXXXX)."""
    escaped = json.dumps(token, ensure_ascii=True)[1:-1].replace("/", "\\/")
    text = json.dumps([lead_with(echo="@@", bearer="Bearer @@", note="key=@@ end")])
    return text.replace("@@", escaped).encode()


@pytest.mark.parametrize(
    "token",
    ["1|sanctum-token-0123456789", 'slash/ed\\back"quote-long', "caf\u00e9-long-enough-token"],
)
def test_recorder__a_long_token_is_redacted_wherever_it_is_after_decoding(
    tmp_path: Path, token: str
) -> None:
    path = Recorder(tmp_path).record("", upstream_echo(token), token.encode("utf-8"))
    assert path is not None
    text = path.read_text()
    assert token not in text
    assert json.dumps(token)[1:-1] not in text
    variables = json.loads(text)[0]["variables"]
    assert variables["echo"] == "[redacted]"
    assert variables["bearer"] == "Bearer [redacted]"
    assert variables["note"] == "key=[redacted] end"


@pytest.mark.parametrize(
    "token", ["1", '"', ":", "a", "id", "2025", "\\", "/", "\u00e9", "[", "12345678"]
)
def test_recorder__a_short_token_is_redacted_where_it_is_a_whole_string_and_data_stays_whole(
    tmp_path: Path, token: str
) -> None:
    path = Recorder(tmp_path).record("", upstream_echo(token), token.encode("utf-8"))
    assert path is not None, f"not recorded for token {token!r}"
    written = json.loads(path.read_text())[0]
    assert written["variables"]["echo"] == "[redacted]"
    assert written["variables"]["bearer"] == "[redacted]"
    assert written["created_at"] == EXAMPLE_LEAD["created_at"]
    assert written["phone_number"] == EXAMPLE_LEAD["phone_number"]
    assert written["id"] == EXAMPLE_LEAD["id"]


def test_recorder__one_file_per_canonical_query_even_when_slugs_collide(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    one = recorder.record("campaign_id=1", BODY, b"k")
    other = recorder.record("campaign_id=-1", BODY, b"k")
    again = recorder.record("campaign_id=1", BODY, b"k")
    assert one is not None
    assert other is not None
    assert one != other
    assert again == one
    index = json.loads((tmp_path / "recordings.json").read_text())["recordings"]
    assert {entry["query"] for entry in index.values()} == {"campaign_id=1", "campaign_id=-1"}
    # A new recorder on the folder keeps the names the index gave.
    assert Recorder(tmp_path).record("campaign_id=-1", BODY, b"k") == other


def test_recorder__bounded_by_max_recordings(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, max_recordings=2)
    assert recorder.record("a=1", BODY, b"k") is not None
    assert recorder.record("a=2", BODY, b"k") is not None
    assert recorder.record("a=3", BODY, b"k") is None
    assert recorder.record("a=1", BODY, b"k") is not None  # a known query is still rewritten
    assert len(list((tmp_path / "recordings").glob("recorded-*.json"))) == 2


def test_recorder__the_index_is_written_for_new_queries_and_on_flush(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.record("a=1", BODY, b"k")
    index = tmp_path / "recordings.json"
    first = index.read_text()
    recorder.record("a=1", BODY, b"k")
    assert index.read_text() == first  # a rewrite of a known query: not written yet
    recorder.flush()
    entries = json.loads(index.read_text())["recordings"]
    assert entries[f"recorded-a-1.{key_fingerprint(b'k')}"]["query"] == "a=1"


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b"not json", b'{"data": "nope"}'],
    ids=["deep", "not-json", "not-leads"],
)
def test_recorder__an_answer_it_cannot_use_is_not_written(tmp_path: Path, body: bytes) -> None:
    assert Recorder(tmp_path).record("", body, b"k") is None
    assert list((tmp_path / "leads").iterdir()) == []
    assert list((tmp_path / "recordings").iterdir()) == []
