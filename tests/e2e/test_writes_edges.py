"""Mock mode's writes at the edges a hostile tester found: reads racing a write, the
state file across deployments' secrets and file modes, and what sits beside it."""

from __future__ import annotations

import concurrent.futures
import stat
from pathlib import Path

import httpx

from tests.support import Launch, clean_env, key_header, refused_at_start

NEW = {"phone_number": "+971501234567", "campaign_id": 1}


def test_writes__no_read_after_a_write_sees_the_listing_before_it(launch: Launch) -> None:
    server = launch()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        for round_ in range(10):
            key = key_header(f"7|race-{round_}")
            etag = server.client.get("/leads", headers=key).headers["etag"]
            made = server.client.post("/lead", headers=key, json=NEW)
            new = made.json()["data"]["id"]

            def read(
                _: int, key: dict[str, str] = key, etag: str = etag, new: int = new
            ) -> tuple[int, bool]:
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    answer = client.get("/leads", headers={**key, "If-None-Match": etag})
                    listed = answer.json() if answer.status_code == 200 else []
                    return answer.status_code, new in {lead["id"] for lead in listed}

            assert set(pool.map(read, range(10))) == {(200, True)}
            assert server.client.delete("/_proxy/state").status_code == 200

            def forgotten(_: int, key: dict[str, str] = key, new: int = new) -> bool:
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    listed = client.get("/leads", headers=key).json()
                    return new not in {lead["id"] for lead in listed}

            assert all(pool.map(forgotten, range(10)))


def test_writes__a_state_file_keeps_its_keys_whatever_the_deployments_secret(
    launch: Launch, tmp_path: Path
) -> None:
    state, key = tmp_path / "kept.db", key_header("8|kept")
    first = launch("--state-file", str(state), env=clean_env(XDG_STATE_HOME=str(tmp_path / "a")))
    made = first.client.post("/lead", headers=key, json=NEW).json()["data"]["id"]
    first.stop()
    # Another machine's (or container's) state folder: another fingerprint secret.
    again = launch("--state-file", str(state), env=clean_env(XDG_STATE_HOME=str(tmp_path / "b")))
    listed = again.client.get("/leads", headers=key)
    assert made in {lead["id"] for lead in listed.json()}
    assert listed.headers["x-mock-source"] == "state"
    assert key_header("8|other") != key
    assert made not in {lead["id"] for lead in again.client.get("/leads", headers={
        "Authorization": "Bearer 8|other"}).json()}  # fmt: skip


def test_writes__an_existing_state_file_is_made_private(launch: Launch, tmp_path: Path) -> None:
    state = tmp_path / "open.db"
    state.touch(mode=0o644)
    state.chmod(0o644)
    server = launch("--state-file", str(state))
    server.client.post("/lead", headers=key_header("9|mode"), json=NEW)
    for path in (state, Path(f"{state}-wal"), Path(f"{state}-changes")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_writes__a_signal_file_that_is_a_folder_or_a_link_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for made in ("folder", "link"):
        state = tmp_path / f"{made}.db"
        beside = Path(f"{state}-changes")
        if made == "folder":
            beside.mkdir()
        else:
            beside.symlink_to(victim)
        assert str(beside) in refused_at_start("--state-file", str(state))
    assert victim.read_text() == "keep me"


def test_writes__an_update_cannot_merge_variables_past_their_bound(launch: Launch) -> None:
    server = launch()
    key = key_header("10|merge")
    made = server.client.post("/lead", headers=key, json=NEW).json()["data"]["id"]
    for part in range(2):
        batch = {f"v{part}-{n}": n for n in range(150)}
        answer = server.client.put(f"/leads/{made}", headers=key, json={"variables": batch})
    assert answer.status_code == 422
    assert "must not have more than 200 items" in answer.json()["message"]
    (lead,) = [
        lead for lead in server.client.get("/leads", headers=key).json() if lead["id"] == made
    ]
    assert len(lead["variables"]) == 150


def test_writes__a_scenario_code_answers_in_the_writes_own_words(launch: Launch) -> None:
    server = launch()
    key = key_header("11|coded")
    for method, path, code, says in [
        ("POST", "/lead", 422, "The phone number field is required."),
        ("POST", "/lead", 404, "Campaign not found"),
        ("PUT", "/leads/1", 404, "Lead not found"),
        ("PUT", "/leads/1", 422, "The phone number field is required."),
    ]:
        headers = {**key, "Prefer": f"code={code}"}
        answer = server.client.request(method, path, headers=headers, json=NEW)
        assert (answer.status_code, answer.json()["message"]) == (code, says)
    assert server.client.get("/leads", headers=key).headers["x-mock-source"] != "state"
