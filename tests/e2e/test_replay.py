"""Record once, replay exactly: a spread of requests recorded through a real
leads-proxy in record mode (bare and paginated, filtered, two keys), then mock
mode on the folder with the upstream gone answers each recorded request with
the upstream's bytes (its URLs re-based) and the rest by emulation."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import LEADS_PROXY, Launch, clean_env, key_header

A = key_header("1|alpha-recording-key-0001")
B = key_header("2|bravo-recording-key-0002")
C = key_header("3|charlie-never-recorded-03")
QUERIES = {
    "A": ["", "status=completed", "per_page=50&page=2", "per_page=20&status=created&page=1"],
    "B": ["per_page=50&page=2", "status=completed"],
}
KEYS = {"A": A, "B": B}
Seen = dict[tuple[str, str], bytes]


def record(launch: Launch, upstream: FakeUpstream, folder: Path, who: str = "AB") -> Seen:
    """Record QUERIES for the keys in `who`; what each request got, by (key, query)."""
    recorder = launch(
        "--mode", "record", "--fixtures", str(folder), "--upstream-url", upstream.url,
        env=clean_env(),
    )  # fmt: skip
    seen: dict[tuple[str, str], bytes] = {}
    with upstream.behaving(listing=1_000):
        for name in who:
            for query in QUERIES[name]:
                got = recorder.client.get(f"/api/user/leads?{query}", headers=KEYS[name])
                assert got.status_code == 200, got.text
                assert upstream.url.encode() not in got.content.replace(b"\\/", b"/")
                # What the upstream sent, with its URLs as the recorder re-based them.
                seen[name, query] = moved(got.content, f"{recorder.url}/api", upstream.url)
    recorder.stop()  # the index is written at exit
    return seen


def moved(body: bytes, old: str, new: str) -> bytes:
    """`body` with URLs under `old` under `new`, in either spelling (slashes escaped or not)."""
    for before, after in ((old, new), (old.replace("/", "\\/"), new.replace("/", "\\/"))):
        body = body.replace(before.encode(), after.encode())
    return body


def rebased(body: bytes, upstream: FakeUpstream, base: str) -> bytes:
    """The upstream's body with its URLs pointing at `base` (as replay re-bases them)."""
    for spelling in (upstream.url, upstream.url.replace("/", "\\/")):
        body = body.replace(spelling.encode(), f"{base}/api".encode())
    return body


@pytest.fixture
def recorded(launch: Launch, upstream: FakeUpstream, tmp_path: Path) -> tuple[Path, Seen]:
    folder = tmp_path / "recorded"
    seen = record(launch, upstream, folder)
    upstream.refuse()  # from here on, nothing answers upstream
    return folder, seen


def test_replay__each_recorded_request_gets_the_upstreams_bytes(
    launch: Launch, upstream: FakeUpstream, recorded: tuple[Path, Seen]
) -> None:
    folder, seen = recorded
    mock = launch("--fixtures", str(folder))
    assert "replaying 6 recordings (2 keys)" in mock.log()
    for (name, query), body in seen.items():
        got = mock.client.get(f"/api/user/leads?{query}", headers=KEYS[name])
        assert got.status_code == 200
        assert got.headers["x-mock-source"] == "recorded", (name, query)
        assert got.headers["x-mock-recorded-for"] == "this-key"
        assert got.content == rebased(body, upstream, mock.url), (name, query)
    page = mock.client.get("/api/user/leads?per_page=50&page=2", headers=A).json()
    assert page["total"] == 1_000
    assert page["next_page_url"] == f"{mock.url}/api/user/leads?per_page=50&page=3"
    # The same query in another spelling is the same canonical query.
    again = mock.client.get("/api/user/leads?page=2&per_page=50", headers=A)
    assert again.headers["x-mock-source"] == "recorded"


def test_replay__the_rest_is_emulated_and_keys_are_kept_apart(
    launch: Launch, recorded: tuple[Path, Seen]
) -> None:
    folder, _ = recorded
    mock = launch("--fixtures", str(folder))
    other = mock.client.get("/api/user/leads?status=scheduled", headers=A)
    assert (other.status_code, other.headers["x-mock-source"]) == (200, "emulated")
    # Two keys recorded: one key's answer is never replayed to a third.
    third = mock.client.get("/api/user/leads?status=completed", headers=C)
    assert third.headers["x-mock-source"] == "emulated"
    # A's unfiltered recording became the default fixture: emulation filters it.
    emulated = mock.client.get("/api/user/leads?status=completed&per_page=5", headers=C).json()
    assert emulated["total"] == len(
        [lead for lead in json.loads(mock.client.get("/api/user/leads", headers=A).content)
         if lead["status"] == "completed"]
    )  # fmt: skip


def test_replay__recorded_only_refuses_what_was_not_recorded(
    launch: Launch, recorded: tuple[Path, Seen]
) -> None:
    folder, _ = recorded
    mock = launch("--fixtures", str(folder), "--replay", "recorded")
    refused = mock.client.get("/api/user/leads?status=scheduled", headers=A)
    assert refused.status_code == 404
    assert "status=completed" in refused.json()["recorded"]
    assert mock.client.get("/api/user/leads?status=completed", headers=A).status_code == 200
    emulated_only = launch("--fixtures", str(folder), "--replay", "emulated")
    got = emulated_only.client.get("/api/user/leads?status=completed", headers=A)
    assert got.headers["x-mock-source"] == "emulated"


def test_replay__one_keys_folder_answers_any_key(
    launch: Launch, upstream: FakeUpstream, tmp_path: Path
) -> None:
    folder = tmp_path / "one-key"
    seen = record(launch, upstream, folder, who="A")
    mock = launch("--fixtures", str(folder))
    got = mock.client.get("/api/user/leads?status=completed", headers=C)
    assert got.headers["x-mock-source"] == "recorded"
    assert got.headers["x-mock-recorded-for"] == "another-key"
    assert got.content == rebased(seen["A", "status=completed"], upstream, mock.url)


def test_replay__format_1_recordings_keep_working_and_validate(
    launch: Launch, tmp_path: Path
) -> None:
    folder = tmp_path / "old"
    shutil.copytree(Path(__file__).resolve().parents[2] / "fixtures", folder)
    lead = json.loads((folder / "leads" / "documented.json").read_text())
    (folder / "leads" / "recorded-status-created.json").write_text(json.dumps(lead))
    index = {"recorded-status-created": {"query": "status=created", "leads": 1}}
    (folder / "recordings.json").write_text(json.dumps(index))
    mock = launch("--fixtures", str(folder))
    got = mock.client.get("/api/user/leads?status=created", headers=C)
    assert got.headers["x-mock-source"] == "recorded"
    assert got.headers["x-mock-recorded-for"] == "any-key"
    assert got.json() == lead


def test_replay__a_recording_whose_file_is_missing_or_bad_stops_the_start(
    launch: Launch, recorded: tuple[Path, Seen], tmp_path: Path
) -> None:
    folder, _ = recorded
    files = sorted((folder / "recordings").glob("*.json"))
    files[0].unlink()
    files[1].write_text('{"current_page": "one"}')
    with pytest.raises(AssertionError) as failed:
        launch("--fixtures", str(folder))
    assert f"{files[0]}: missing" in str(failed.value)
    assert f"{files[1]}: not a documented answer" in str(failed.value)
    check = subprocess.run(
        [LEADS_PROXY, "fixtures", "validate", str(folder)],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert check.returncode == 1
    assert f"{files[0]}: missing: the index names it" in check.stdout
    assert f"{files[1]}: not a documented answer" in check.stdout
