"""Record mode, replay, anonymization and the contract check, as users run them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from leads_proxy.fixtures.files import load_fixtures
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.http.files import write_atomically
from leads_proxy.http.keys import key_fingerprint
from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, LEADS_PROXY, ROOT, Launch, clean_env

KEY = "7|record-secret-token-value"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def every_file(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def record(launch: Launch, tmp_path: Path, upstream: FakeUpstream, *args: str) -> Path:
    """Run record mode over three queries, then stop it; return the fixtures folder it wrote."""
    fixtures = tmp_path / "recorded"
    server = launch(
        "--mode", "record", "--upstream-url", upstream.url, "--fixtures", str(fixtures), *args
    )
    for query in ["", "?status=completed", "?status=x&status=completed", "?campaign_id=2"]:
        assert server.client.get(f"/api/user/leads{query}", headers=HEADERS).status_code == 200
    assert server.client.get("/api/user/leads", headers=HEADERS).headers["x-cache"] == "HIT"
    server.stop()
    return fixtures


FINGERPRINT = key_fingerprint(KEY.encode())


def test_record__writes_one_recording_per_query_and_an_index(
    launch: Launch, tmp_path: Path, upstream: FakeUpstream
) -> None:
    fixtures = record(launch, tmp_path, upstream)
    assert sorted(path.stem for path in (fixtures / "leads").glob("*.json")) == ["default"]
    names = sorted(path.stem for path in (fixtures / "recordings").glob("*.json"))
    slugs = ["recorded", "recorded-campaign-id-2", "recorded-status-completed"]
    assert names == sorted(f"{slug}.{FINGERPRINT}" for slug in slugs)
    index = json.loads((fixtures / "recordings.json").read_text())["recordings"]
    assert index[f"recorded-status-completed.{FINGERPRINT}"]["query"] == "status=completed"
    assert index[f"recorded.{FINGERPRINT}"]["leads"] == 3
    assert index[f"recorded.{FINGERPRINT}"]["shape"] == "array"
    assert upstream.count() == 3  # the two spellings of status=completed are one query


def test_record__writes_no_secret_anywhere(
    launch: Launch, tmp_path: Path, upstream: FakeUpstream
) -> None:
    secret_body = json.dumps([{**EXAMPLE_LEAD, "variables": {"echo": KEY}}]).encode()
    with upstream.behaving(body=secret_body):
        fixtures = record(launch, tmp_path, upstream)
    files = every_file(fixtures)
    assert files
    for path in files:
        text = path.read_text()
        for secret in (KEY, "record-secret-token-value", "Bearer", "authorization"):
            assert secret not in text, path
    assert "[redacted]" in (fixtures / "recordings" / f"recorded.{FINGERPRINT}.json").read_text()


def test_record__replays_offline_in_mock_mode(
    launch: Launch, tmp_path: Path, upstream: FakeUpstream
) -> None:
    fixtures = record(launch, tmp_path, upstream, "--record-as-default")
    recordings = fixtures / "recordings"
    recorded = json.loads(
        (recordings / f"recorded-status-completed.{FINGERPRINT}.json").read_text()
    )
    upstream.stop()  # from here on, nothing to proxy to
    server = launch("--fixtures", str(fixtures))
    got = server.client.get("/leads?status=completed", headers=AUTH)  # the folder's one key
    assert (got.json(), got.headers["x-mock-source"]) == (recorded, "recorded")
    default = server.client.get("/leads", headers=AUTH).json()
    assert default == json.loads((recordings / f"recorded.{FINGERPRINT}.json").read_text())
    assert default == json.loads((fixtures / "leads" / "default.json").read_text())


def test_record__anonymize_keeps_validity_and_drops_personal_data(
    launch: Launch, tmp_path: Path, upstream: FakeUpstream
) -> None:
    original = [json.loads(json.dumps(EXAMPLE_LEAD))]
    with upstream.behaving(body=json.dumps(original).encode()):
        fixtures = record(launch, tmp_path, upstream, "--anonymize")
    load_fixtures(fixtures)  # the recording validates: mock mode can serve it
    for path in every_file(fixtures):
        text = path.read_text()
        for personal in ("+1234567890", "+1234567899", "John Doe", "john.doe@example.com"):
            assert personal not in text
    lead = json.loads((fixtures / "recordings" / f"recorded.{FINGERPRINT}.json").read_text())[0]
    assert (lead["id"], lead["status"], lead["campaign"]) == (
        1,
        "created",
        EXAMPLE_LEAD["campaign"],
    )
    index = json.loads((fixtures / "recordings.json").read_text())["recordings"]
    assert index[f"recorded.{FINGERPRINT}"]["anonymized"]


def test_record__an_answer_that_does_not_validate_is_not_written(
    launch: Launch, tmp_path: Path, upstream: FakeUpstream
) -> None:
    with upstream.behaving(body=b'[{"id": "not a lead"}]'):
        fixtures = record(launch, tmp_path, upstream)
    assert list((fixtures / "leads").glob("*.json")) == []
    assert not (fixtures / "recordings.json").exists()


def test_write_atomically__an_interrupted_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "default.json"
    path.write_text("[]\n")

    def crash(_fd: int) -> None:
        raise KeyboardInterrupt  # as a crash would, after half the bytes are out

    monkeypatch.setattr("leads_proxy.http.files.os.fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, "[" + "1," * 100_000 + "1]")
    assert path.read_text() == "[]\n"
    assert [p.name for p in tmp_path.iterdir()] == ["default.json"]  # no temporary file left


# --- fixtures anonymize -------------------------------------------------------------------


def test_fixtures_anonymize__rewrites_a_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "leads.json"
    path.write_text(json.dumps([EXAMPLE_LEAD]))
    result = subprocess.run(
        [LEADS_PROXY, "fixtures", "anonymize", str(path)],
        capture_output=True, text=True, check=False, env=clean_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = path.read_text()
    assert "John Doe" not in text
    assert "+1234567890" not in text
    assert json.loads(text)[0]["id"] == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [("{not json", "not a JSON file"), ('{"a": 1}', "expected a JSON array of leads")],
)
def test_fixtures_anonymize__bad_input_exits_2(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "leads.json"
    path.write_text(content)
    result = subprocess.run(
        [LEADS_PROXY, "fixtures", "anonymize", str(path)],
        capture_output=True, text=True, check=False, env=clean_env(),
    )  # fmt: skip
    assert result.returncode == 2
    assert says in result.stderr
    assert path.read_text() == content


# --- contract check -----------------------------------------------------------------------


def contract(*args: str, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = clean_env(**({"SONDOS_API_KEY": key} if key else {}))
    return subprocess.run(
        [LEADS_PROXY, "contract", "check", *args],
        capture_output=True, text=True, check=False, env=env, cwd=ROOT, timeout=60,
    )  # fmt: skip


def drifted(change: str) -> Any:
    leads = [json.loads(json.dumps({**EXAMPLE_LEAD, "id": n})) for n in (1, 2)]
    if change == "renamed":
        for lead in leads:
            lead["phone"] = lead.pop("phone_number")
    elif change == "string-id":
        leads[0]["id"] = "1"
    elif change == "paginated":
        return {"current_page": 1, "data": leads, "total": 2}
    elif change == "new-status":
        leads[1]["status"] = "voicemail"
    elif change == "new-field":
        leads[0]["notes"] = "optional"
    return leads


@pytest.mark.parametrize(
    ("change", "code", "kinds"),
    [
        ("none", 0, []),
        ("renamed", 1, [("missing-field", True), ("new-field", False)]),
        ("string-id", 1, [("type-change", True)]),
        ("paginated", 1, [("envelope", True)]),
        ("new-status", 0, [("unknown-status", False)]),
        ("new-field", 0, [("new-field", False)]),
    ],
)
def test_contract__against_the_upstream_exit_codes_and_findings(
    upstream: FakeUpstream, change: str, code: int, kinds: list[tuple[str, bool]]
) -> None:
    with upstream.behaving(body=json.dumps(drifted(change)).encode()):
        result = contract("--upstream-url", upstream.url, "--format", "json")
    assert result.returncode == code, result.stderr
    report = json.loads(result.stdout)
    assert [(f["kind"], f["breaking"]) for f in report["findings"]] == kinds
    assert upstream.seen[-1].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in result.stdout + result.stderr


def test_contract__from_a_file_offline_with_a_readable_table(tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(drifted("string-id")))
    result = contract("--from-file", str(path), key=None)
    assert result.returncode == 1
    assert "BREAKING" in result.stdout
    assert "type-change" in result.stdout
    assert "/*/id" in result.stdout


@pytest.mark.parametrize(
    ("setup", "says"),
    [
        ("no-key", "set the SONDOS_API_KEY environment variable"),
        ("401", "was refused"),
        ("down", "could not be reached"),
    ],
)
def test_contract__exit_2_when_it_cannot_check(
    upstream: FakeUpstream, setup: str, says: str
) -> None:
    if setup == "down":
        upstream.refuse()
    with upstream.behaving(mode="status" if setup == "401" else "ok", status=401):
        result = contract("--upstream-url", upstream.url, key=None if setup == "no-key" else KEY)
    assert result.returncode == 2
    assert says in result.stderr
    assert KEY not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("part", ["recordings", "leads"])
def test_record__a_folder_that_leads_out_of_the_fixtures_is_refused_at_start(
    tmp_path: Path, upstream: FakeUpstream, part: str
) -> None:
    fixtures, outside = tmp_path / "recorded", tmp_path / "outside"
    fixtures.mkdir()
    outside.mkdir()
    (fixtures / part).symlink_to(outside)
    result = subprocess.run(
        [LEADS_PROXY, "serve", "--mode", "record", "--upstream-url", upstream.url,
         "--fixtures", str(fixtures), "--port", "9"],
        capture_output=True, text=True, timeout=60, check=False, env=clean_env(),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"{fixtures / part} leads out of the fixtures folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(outside.iterdir()) == []
