"""Reading recordings back: both index formats, and every way one can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads_proxy.fixtures.recordings import load_recordings, rebased_in, rebased_out
from leads_proxy.fixtures.schema import EXAMPLE_LEAD

LEADS = json.dumps([EXAMPLE_LEAD])


def write(root: Path, index: object, files: dict[str, str]) -> None:
    (root / "recordings").mkdir(parents=True, exist_ok=True)
    (root / "recordings.json").write_text(json.dumps(index))
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def entry(file: str, key: str | None = "0a1b2c3d") -> dict[str, object]:
    return {"query": "status=created", "key": key, "file": file}


def test_load__no_index_no_recordings(tmp_path: Path) -> None:
    assert load_recordings(tmp_path) == ([], [])


@pytest.mark.parametrize(
    ("index", "files", "says"),
    [
        ("{not json", {}, "not a readable JSON index"),
        ([1, 2], {}, "not a recordings index"),
        ({"format": 2, "recordings": [1]}, {}, "not a recordings index"),
        ({"format": 2, "recordings": {"a": {"key": "k"}}}, {}, "'a': no query"),
        ({"format": 2, "recordings": {"a": {"query": ""}}}, {}, "'a': no file, or a bad key"),
        ({"format": 2, "recordings": {"a": entry("../outside.json")}}, {},
         "its file is outside the folder"),
        ({"format": 2, "recordings": {"a": entry("recordings/a.json")}}, {}, "missing"),
        ({"format": 2, "recordings": {"a": entry("recordings/a.json")}},
         {"recordings/a.json": "{oops"}, "not JSON"),
        ({"format": 2, "recordings": {"a": entry("recordings/a.json")}},
         {"recordings/a.json": '{"data": 1}'}, "not a documented answer"),
    ],
)  # fmt: skip
def test_load__each_problem_names_its_file(
    tmp_path: Path, index: object, files: dict[str, str], says: str
) -> None:
    if isinstance(index, str):
        (tmp_path / "recordings.json").write_text(index)
    else:
        write(tmp_path, index, files)
    recordings, problems = load_recordings(tmp_path)
    assert recordings == []
    assert len(problems) == 1
    assert says in str(problems[0])


def test_load__both_formats(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"format": 2, "recordings": {
            "new": entry("recordings/new.json"), "old": entry("leads/old.json", key=None)}},
        {"recordings/new.json": LEADS, "leads/old.json": LEADS},
    )  # fmt: skip
    recordings, problems = load_recordings(tmp_path)
    assert problems == []
    assert {(r.name, r.key) for r in recordings} == {("new", "0a1b2c3d"), ("old", None)}
    one = tmp_path / "one"
    (one / "leads").mkdir(parents=True)
    (one / "leads" / "recorded.json").write_text(LEADS)
    (one / "recordings.json").write_text(json.dumps({"recorded": {"query": ""}}))
    (old,) = load_recordings(one)[0]
    assert (old.query, old.key) == ("", None)


def test_rebase__plain_and_escaped_out_plain_in() -> None:
    body = b'{"a":"https://up.example/api/x","b":"https:\\/\\/up.example\\/api\\/y"}'
    stored = rebased_out(body, "https://up.example/api/")
    assert b"up.example" not in stored
    assert rebased_in(stored, "http://127.0.0.1:9/api") == (
        b'{"a":"http://127.0.0.1:9/api/x","b":"http://127.0.0.1:9/api\\/y"}'
    )
