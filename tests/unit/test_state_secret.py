"""The secret of shown fingerprints, kept in the state folder: made once, 0600, never
through a file that was there before (a FIFO would hang start-up; a hard link would
have the secret written into another file)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from leads_proxy.edge import startup
from leads_proxy.settings.declarations import Settings


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path / "leads-proxy"


def test_secret__made_once_and_kept(state: Path) -> None:
    first = startup.fingerprint_secret(Settings())
    assert startup.fingerprint_secret(Settings()) == first
    kept = state / "fingerprint.key"
    assert kept.read_bytes() == first
    assert kept.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in state.iterdir()] == ["fingerprint.key"]  # no temp left


@pytest.mark.parametrize("kind", ["fifo", "hard-link"])
def test_secret__a_file_where_it_is_made_is_never_written_through(
    state: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    monkeypatch.setattr(secrets, "token_hex", lambda _: "guessed")
    state.mkdir()
    made = state / ".fingerprint.key.guessed"
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep me")
    if kind == "fifo":
        os.mkfifo(made)
    else:
        made.hardlink_to(outside)
    secret = startup.fingerprint_secret(Settings())  # returns: no hang on the FIFO
    assert len(secret) == 32
    assert outside.read_bytes() == b"keep me"
    assert not (state / "fingerprint.key").exists()


def test_secret__a_relative_state_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "relative")
    assert startup.state_dir() == Path.home() / ".local" / "state" / "leads-proxy"


def test_secret__from_the_key_secret_needs_no_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "/nonexistent/never")
    given = Settings(key_secret="s" * 32)
    assert startup.fingerprint_secret(given) == startup.fingerprint_secret(given)
