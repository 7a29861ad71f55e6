from __future__ import annotations

from pathlib import Path

import pytest

from leads_proxy.cli import build_parser
from leads_proxy.settings.declarations import Settings
from leads_proxy.settings.defaults import bundled_fixtures_dir
from leads_proxy.settings.text import SettingsError, load_settings
from leads_proxy.settings.values import Mode, Switch


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


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("redis://cache", True),
        ("rediss://user:pw@cache.internal:6380/2", True),
        ("unix:///run/redis/redis.sock?db=1", True),
        ("redis://127.0.0.1:abc/0", False),
        ("redis://127.0.0.1:6379/zero", False),
        ("redis://", False),
        ("unix://", False),
        ("http://cache:6379", False),
        ("cache:6379", False),
    ],
)
def test_settings__cache_url_must_be_a_redis_url(url: str, valid: bool) -> None:
    if valid:
        assert load_settings(cache_url=url, key_secret="s" * 16).cache_url is not None
    else:
        with pytest.raises(SettingsError, match="expected a Redis URL"):
            load_settings(cache_url=url, key_secret="s" * 16)


def test_settings__cache_url_needs_a_key_secret() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(cache_url="redis://127.0.0.1:6379/0")
    message = str(caught.value)
    assert message.startswith("--cache-url / LEADS_PROXY_CACHE_URL needs --key-secret")
    assert "LEADS_PROXY_KEY_SECRET" in message
    settings = load_settings(cache_url="redis://127.0.0.1:6379/0", key_secret="s" * 16)
    assert settings.cache_url is not None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"cache_url": "http://:hunter2@cache:6379", "key_secret": "s" * 16},
            "invalid value for --cache-url / LEADS_PROXY_CACHE_URL: expected a Redis URL like "
            "redis://127.0.0.1:6379/0 (redis, rediss, unix, redis+sentinel or rediss+sentinel)",
        ),
        (
            {"key_secret": "hunter2"},
            "invalid value for --key-secret / LEADS_PROXY_KEY_SECRET: "
            "expected at least 16 characters",
        ),
        (
            {"workers": "0"},
            "invalid value '0' for --workers / LEADS_PROXY_WORKERS: "
            "expected a whole number from 1 to 64",
        ),
    ],
    ids=["cache-url-scheme", "short-key-secret", "no-workers"],
)
def test_settings__scale_out_values_are_checked_and_secrets_never_echoed(
    given: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**given)
    assert str(caught.value) == expected
    assert "hunter2" not in str(caught.value)


def test_settings__record_mode_runs_as_one_process() -> None:
    with pytest.raises(SettingsError, match="--mode record runs as one process"):
        load_settings(mode="record", workers="2")
    assert load_settings(mode="proxy", workers="2").workers == 2


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_settings__each_has_a_flag_an_env_twin_and_help_from_its_declaration(field: str) -> None:
    commands = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    serve = commands.choices["serve"]  # type: ignore[index]
    flag = "--" + field.replace("_", "-")
    action = next(action for action in serve._actions if flag in action.option_strings)
    info = Settings.model_fields[field]
    assert action.dest == field
    assert action.default is None  # not given: the env twin or the model's default decides
    assert info.description
    assert action.help is not None
    assert action.help.startswith(info.description)
    assert f"env LEADS_PROXY_{field.upper()}" in action.help


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("port", "70000", "expected a whole number from 0 to 65535"),
        ("upstream_timeout", "0", "expected a number above 0, at most 300"),
        ("ttl", "-1", "expected a number, 0 or more"),
        ("upstream_max_rps", "0", "expected a number above 0"),
        ("cache_timeout", "11", "expected a number above 0, at most 10"),
        ("admin_token", "short", "expected at least 8 characters"),
        ("mock_auth", "maybe", "expected one of on, off"),
    ],
)
def test_settings__bad_values_say_what_the_declaration_allows(
    field: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**{field: value})
    assert str(caught.value).endswith(expected)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis://:hunter2@127.0.0.1:6379/0?socket_timeout=abc", "'socket_timeout'"),
        ("redis://:hunter2@127.0.0.1:6379/0?bogus=1", "unknown option 'bogus'"),
    ],
)
def test_settings__a_bad_cache_url_option_is_one_line_without_the_url(url: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(cache_url=url, key_secret="s" * 16)
    message = str(caught.value)
    assert message.startswith("invalid value for --cache-url / LEADS_PROXY_CACHE_URL: ")
    assert says in message
    assert "\n" not in message
    assert "hunter2" not in message
