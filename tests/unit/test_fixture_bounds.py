"""Bounds on what a fixtures folder may make the server read, parse, keep and write:
regular files inside the folder, a size and a depth bound, each file read once, and
page URLs written in as JSON from a Host that names a host."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from leads_proxy.fixtures.files import MAX_PROBLEMS, FixtureError, check_fixtures, load_fixtures
from leads_proxy.fixtures.reading import (
    MAX_DEPTH,
    Folder,
    Missing,
    Problem,
    Unreadable,
    parse_json,
    read_bounded,
)
from leads_proxy.fixtures.record import Recorder
from leads_proxy.fixtures.recordings import UPSTREAM, Recording, load_recordings, rebased_in
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.http.hosts import NOT_A_HOST
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Incoming
from leads_proxy.mock import replay as replay_module
from leads_proxy.mock.replay import Replay, page_base
from leads_proxy.mock.service import MockService

AUTH = (b"authorization", b"Bearer 1|k")
LEADS = json.dumps([EXAMPLE_LEAD]).encode()


def nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * (depth - 1) + b"[" + inner + b"]" + b"}" * (depth - 1)


@pytest.mark.parametrize(
    ("data", "place"),
    [
        pytest.param(nested(MAX_DEPTH + 1), (1, 5 * MAX_DEPTH + 1), id="one-past"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, (1, MAX_DEPTH + 1), id="100000-deep"),
        pytest.param(b"[" * 100_000, (1, MAX_DEPTH + 1), id="never-closed"),
        pytest.param(b'[\n"]]]]",\n' + b"[" * 70 + b"]" * 70 + b"]", (3, MAX_DEPTH), id="line-3"),
    ],
)  # fmt: skip
def test_parse__nesting_past_the_bound_is_refused_with_its_place(
    data: bytes, place: tuple[int, int]
) -> None:
    with pytest.raises(Unreadable) as caught:
        parse_json(data)
    assert caught.value.message == f"nested deeper than {MAX_DEPTH} levels"
    assert (caught.value.line, caught.value.column) == place


@pytest.mark.parametrize(
    "data",
    [
        nested(MAX_DEPTH),
        b'["' + b"[" * 1000 + b'"]',  # brackets in a string are no nesting
        b'[{"a\\"[[[[": "\\\\", "b": "\\\\\\"{{{{"}]' + b"",
        b'["' + b"]" * 1000 + b'", ' + nested(MAX_DEPTH - 1) + b"]",
    ],
    ids=["at-the-bound", "string", "escapes", "closers-in-a-string"],
)
def test_parse__nesting_within_the_bound_is_read(data: bytes) -> None:
    assert parse_json(data) == json.loads(data)


@pytest.mark.parametrize(
    ("data", "says", "place"),
    [
        (b'[1, "\xff"]', "not UTF-8 text", (1, 6)),
        (b"[NaN]", "malformed JSON: NaN is not a JSON value", (None, None)),
        (b"[" + b"9" * 5000 + b"]", "a number too long to read", (None, None)),
        (b"[1,\n 2", "malformed JSON: Expecting ',' delimiter", (2, 3)),
    ],
)
def test_parse__every_fault_is_a_message_never_a_traceback(
    data: bytes, says: str, place: tuple[int | None, int | None]
) -> None:
    with pytest.raises(Unreadable) as caught:
        parse_json(data)
    assert caught.value.message == says
    assert (caught.value.line, caught.value.column) == place


def test_read__only_regular_files_inside_the_folder(tmp_path: Path) -> None:
    inside = tmp_path / "folder"
    inside.mkdir()
    (tmp_path / "secret.json").write_text('{"secret": 1}')
    (inside / "out.json").symlink_to(tmp_path / "secret.json")
    (inside / "zero.json").symlink_to("/dev/zero")
    (inside / "dir.json").mkdir()
    os.mkfifo(inside / "pipe.json")
    (inside / "loop.json").symlink_to(inside / "loop.json")
    (inside / "dangling.json").symlink_to(inside / "nothing")
    (inside / "ok.json").write_bytes(LEADS)
    (inside / "in.json").symlink_to(inside / "ok.json")
    root = inside.resolve()
    said: dict[str, object] = {}
    for name in ["out", "zero", "dir", "pipe", "loop", "dangling", "ok", "in", "nul\0"]:
        try:
            said[name] = read_bounded(inside / f"{name}.json", inside=root)
        except Unreadable as error:
            said[name] = (type(error), error.message)
    outside = (Unreadable, "outside the fixtures folder (where its links lead): not read")
    assert said == {
        "out": outside,
        "zero": outside,
        "dir": (Unreadable, "not a regular file (a folder): not read"),
        "pipe": (Unreadable, "not a regular file (a FIFO): not read"),
        "loop": (Unreadable, "a loop of symbolic links"),
        "dangling": (Missing, "missing (or a link to nothing)"),
        "ok": LEADS,
        "in": LEADS,
        "nul\0": (Unreadable, "a file name with a NUL byte in it"),
    }


def test_read__a_device_is_refused_unopened(tmp_path: Path) -> None:
    device = tmp_path / "zero.json"
    try:
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("making a device node needs root")
    with pytest.raises(Unreadable, match=r"not a regular file \(a device\)"):
        read_bounded(device, inside=tmp_path.resolve())


def test_read__a_file_over_the_bound_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    assert read_bounded(path, limit=101) == b" " * 101
    with pytest.raises(Unreadable) as caught:
        read_bounded(path, limit=100)
    assert (
        caught.value.message
        == "101 bytes, over the bound of 100 bytes (9.53674e-05 MiB) for a file"
    )


def test_folder__a_file_is_read_once_by_its_real_path(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(LEADS)
    (tmp_path / "b.json").symlink_to("a.json")
    folder = Folder(tmp_path)
    first = folder.read(tmp_path / "a.json")
    assert folder.read(tmp_path / "b.json")[1] is first[1]
    assert folder.read(tmp_path / "x" / ".." / "a.json")[1] is first[1]


def test_recordings__one_file_named_200_times_is_one_body_and_one_problem(tmp_path: Path) -> None:
    entries = {f"n{n}": {"query": f"q={n}", "key": None, "file": "one.json"} for n in range(200)}
    (tmp_path / "recordings.json").write_text(json.dumps({"format": 2, "recordings": entries}))
    (tmp_path / "one.json").write_bytes(LEADS)
    recordings, problems = load_recordings(tmp_path)
    assert (len(recordings), problems) == (200, [])
    assert len({id(recording.body) for recording in recordings}) == 1
    (tmp_path / "one.json").write_bytes(b"[" * 100)
    recordings, problems = load_recordings(tmp_path)
    assert recordings == []
    assert [str(problem) for problem in problems] == [
        f"{(tmp_path / 'one.json').resolve()}:1:{MAX_DEPTH + 1}: not JSON: "
        f"nested deeper than {MAX_DEPTH} levels"
    ]


def test_recordings__names_and_files_no_terminal_should_show(tmp_path: Path) -> None:
    entries = {
        "a\u0000": {"query": "q=1", "key": None, "file": "a.json"},
        "b": {"query": "q=2", "key": None, "file": "b\u001b[2J.json"},
    }
    (tmp_path / "recordings.json").write_text(json.dumps({"format": 2, "recordings": entries}))
    _, problems = load_recordings(tmp_path)
    assert [problem.message for problem in problems] == [
        "'a\\x00': a name with control characters",
        "'b': a file name with control characters",
    ]


def test_load__a_lone_surrogate_and_a_file_wrong_everywhere(tmp_path: Path) -> None:
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "default.json").write_bytes(LEADS)
    lead = {**EXAMPLE_LEAD, "variables": {"name": "\ud800"}}
    (tmp_path / "leads" / "lone.json").write_text(json.dumps([lead]))
    (tmp_path / "leads" / "wrong.json").write_text(json.dumps([{"id": "x"}] * 100))
    problems, _ = check_fixtures(tmp_path)
    lone = [str(problem) for problem in problems if problem.file.name == "lone.json"]
    wrong = [problem for problem in problems if problem.file.name == "wrong.json"]
    assert lone == [
        f"{tmp_path}/leads/lone.json: a lone surrogate escape (like \\ud800) in a string"
    ]
    assert len(wrong) == MAX_PROBLEMS + 1
    assert wrong[-1].message == f"and {100 * 9 - MAX_PROBLEMS:,} more problems"


def test_problem__a_file_name_no_terminal_should_show_is_quoted() -> None:
    assert str(Problem(Path("leads/a\x1b[2J.json"), "bad")) == "'leads/a\\x1b[2J.json': bad"
    assert str(Problem(Path("leads/b.json"), "bad", line=1, column=2)) == "leads/b.json:1:2: bad"


def test_load__a_link_out_of_the_folder_is_not_served_nor_shown(tmp_path: Path) -> None:
    (tmp_path / "fixtures" / "leads").mkdir(parents=True)
    (tmp_path / "fixtures" / "leads" / "default.json").write_bytes(LEADS)
    (tmp_path / "evil.json").write_text(json.dumps([{**EXAMPLE_LEAD, "id": "TOP SECRET"}]))
    (tmp_path / "fixtures" / "leads" / "evil.json").symlink_to(tmp_path / "evil.json")
    with pytest.raises(FixtureError) as caught:
        load_fixtures(tmp_path / "fixtures")
    assert "TOP SECRET" not in str(caught.value)
    assert "leads/evil.json: outside the fixtures folder" in str(caught.value)


# --- page URLs from a Host ------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "built"),
    [
        ("http://127.0.0.1:8000/api", "http://127.0.0.1:8000/api"),
        ("https://leads.test/api", "https://leads.test/api"),
        ("http://[::1]:9/api", "http://[::1]:9/api"),
        ("http://leads_proxy:8000/api", "http://leads_proxy:8000/api"),  # a Compose name
        ('http://127.0.0.1","total":999999,"injected":"/api', None),
        ("http://a b/api", None),
        ("http://127.0.0.1\\evil/api", None),
        ("http://127.0.0.1:99999999/api", None),
        ("http://127.0.0.1:0/api", None),
        ("http:///api", None),
        ("ftp://leads.test/api", None),
        ("http://l\u0435ads.test/api", None),  # a Cyrillic e
    ],
)
def test_page_base__only_a_host_a_url_can_hold(base: str, built: str | None) -> None:
    assert page_base(base) == built


def test_rebased_in__the_base_is_written_as_json_writes_a_string() -> None:
    body = json.dumps({"next_page_url": f"{UPSTREAM}/user/leads?page=2"}).encode()
    hostile = 'http://h","total":999999,"injected":"\\'
    assert json.loads(rebased_in(body, hostile)) == {
        "next_page_url": f"{hostile}/user/leads?page=2"
    }


def paginator() -> bytes:
    return json.dumps(
        {"data": [EXAMPLE_LEAD], "next_page_url": f"{UPSTREAM}/user/leads?page=2"}
    ).encode()


def test_replay__a_host_that_names_no_host_gets_the_400_and_no_page_urls() -> None:
    page = Recording("p", "", None, paginator(), Path("/f/p.json"))
    bare = Recording("b", "status=new", None, LEADS, Path("/f/b.json"))
    replay = Replay([page, bare])
    hostile = 'http://127.0.0.1","injected":"/api'
    assert replay.answer(b"", None, hostile) is NOT_A_HOST
    bare_answer = replay.answer(b"status=new", None, hostile)  # no URL in it to write
    assert bare_answer is not None
    assert bare_answer.body == LEADS


def test_replay__names_of_one_file_share_one_ready_answer() -> None:
    body = paginator()
    replay = Replay(
        [Recording(f"n{n}", f"q={n}", None, body, Path("/f/one.json")) for n in range(3)]
    )
    answers = {id(replay.answer(f"q={n}".encode(), None, "http://h/api")) for n in range(3)}
    assert len(answers) == 1


def test_replay__an_answer_past_the_ready_bound_is_served_and_kept_alone() -> None:
    large = [
        Recording(f"n{n}", f"q={n}", None, LEADS + b" " * n, Path(f"/f/{n}.json")) for n in range(2)
    ]
    replay = Replay(large, ready_bytes=100)
    first = replay.answer(b"q=0", None, "http://h/api")
    assert first is not None
    assert first.status == 200
    assert replay.answer(b"q=0", None, "http://h/api") is first  # kept, alone
    second = replay.answer(b"q=1", None, "http://h/api")
    assert second is not None
    assert second.status == 200
    assert replay.answer(b"q=1", None, "http://h/api") is second


def test_replay__a_large_answer_is_made_beforehand_on_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = json.dumps([{**EXAMPLE_LEAD, "variables": {"n": "x" * 100_000}}]).encode()
    replay = Replay([Recording("big", "", None, body, Path("/f/big.json"))])
    made_on: list[bool] = []
    made = replay_module._made

    def spied(*args: Any) -> Reply:
        made_on.append(threading.current_thread() is threading.main_thread())
        return made(*args)

    monkeypatch.setattr(replay_module, "_made", spied)
    asyncio.run(replay.prepare(Incoming(origin="http://h")))
    ready = replay.answer(b"", None, "http://h/api")
    assert ready is not None
    assert ready.body == body
    assert made_on == [False]  # made once, off the loop's thread


def test_mock__an_emulated_page_needs_a_host_a_url_can_hold(tmp_path: Path) -> None:
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "default.json").write_bytes(LEADS)
    service = MockService(load_fixtures(tmp_path))
    hostile = 'http://127.0.0.1","injected":"'
    paged = service.reply(Incoming(query=b"per_page=5", headers=[AUTH], origin=hostile))
    assert paged is NOT_A_HOST
    bare = service.reply(Incoming(query=b"status=created", headers=[AUTH], origin=hostile))
    assert bare.status == 200
    fine = service.reply(Incoming(query=b"per_page=5", headers=[AUTH], origin="http://h:1"))
    assert json.loads(fine.body)["path"] == "http://h:1/api/user/leads"


@pytest.mark.parametrize("kind", ["fifo", "link-out", "deep"])
@pytest.mark.timeout(20)
def test_recorder__an_index_it_cannot_read_is_started_anew_without_waiting(
    tmp_path: Path, kind: str
) -> None:
    root = tmp_path / "fixtures"
    root.mkdir()
    index = root / "recordings.json"
    if kind == "fifo":
        os.mkfifo(index)
    elif kind == "link-out":
        (tmp_path / "outside.json").write_text('{"format": 2, "recordings": {}}')
        index.symlink_to(tmp_path / "outside.json")
    else:
        index.write_bytes(b'{"a": ' + b"[" * 100_000)
    recorder = Recorder(root)
    recorder.record("status=created", LEADS, b"1|k")
    recorder.flush()
    [name] = json.loads(index.read_text())["recordings"]
    assert name.startswith("recorded-status-created.")
    if kind == "link-out":
        assert (tmp_path / "outside.json").read_text() == '{"format": 2, "recordings": {}}'
