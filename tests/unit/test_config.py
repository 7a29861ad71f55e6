from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Mode, Settings, SettingsError, Switch, bundled_fixtures_dir, load_settings


def test_settings__defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODE", "HOST", "PORT", "FIXTURES", "MOCK_AUTH"):
        monkeypatch.delenv(f"LEADS_PROXY_{name}", raising=False)
    settings = Settings()
    assert (settings.mode, settings.host, settings.port) == (Mode.MOCK, "127.0.0.1", 8000)
    assert settings.mock_auth is Switch.ON
    assert settings.fixtures == bundled_fixtures_dir()
    assert (settings.fixtures / "leads" / "default.json").is_file()


def test_settings__env_twin_and_flag_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADS_PROXY_PORT", "9001")
    monkeypatch.setenv("LEADS_PROXY_FIXTURES", "/tmp/fx")
    assert load_settings(port=None).port == 9001
    assert load_settings(port="9002").port == 9002
    assert load_settings().fixtures == Path("/tmp/fx")


def test_settings__several_bad_values_one_line_each() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(mode="bogus", port="-1")
    assert str(caught.value).splitlines() == [
        "invalid value 'bogus' for --mode / LEADS_PROXY_MODE: expected one of mock, proxy, record",
        "invalid value '-1' for --port / LEADS_PROXY_PORT: expected a whole number from 0 to 65535",
    ]
