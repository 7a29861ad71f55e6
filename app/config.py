"""Settings and modes.

Nothing here is built at import time: the CLI (or a test) builds `Settings`,
so every value can come from a flag, from its `LEADS_PROXY_<NAME>` env twin,
or from a default, in that order of precedence.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, HttpUrl, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LEADS_PROXY_"
DEFAULT_UPSTREAM = "https://app.sondos-ai.com/api"
SECRETS = frozenset({"admin_token", "key_secret", "cache_url"})  # never echoed back
CACHE_URL_ALONE = (
    "--cache-url / LEADS_PROXY_CACHE_URL needs --key-secret / LEADS_PROXY_KEY_SECRET: "
    "the same secret of at least 16 characters on every process sharing the cache "
    "(for example from `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)


class Mode(enum.StrEnum):
    """How leads-proxy answers the leads listing."""

    MOCK = "mock"
    PROXY = "proxy"
    RECORD = "record"


class Switch(enum.StrEnum):
    """An on/off setting, spelled the way the README spells it."""

    ON = "on"
    OFF = "off"


class Fallback(enum.StrEnum):
    """What proxy mode answers when the upstream fails and nothing is cached."""

    NONE = "none"
    FIXTURES = "fixtures"


class LogLevel(enum.StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def bundled_fixtures_dir() -> Path:
    """The fixtures that ship with leads-proxy: inside the wheel, or the repo's."""
    package_dir = Path(__file__).resolve().parent
    inside_wheel = package_dir / "_bundled_fixtures"
    if inside_wheel.is_dir():
        return inside_wheel
    return package_dir.parent / "fixtures"


class Settings(BaseSettings):
    """Every setting of the server; each has a CLI flag and an env var twin."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    mode: Mode = Mode.MOCK
    host: str = Field(default="127.0.0.1", min_length=1)
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    fixtures: Path = Field(default_factory=bundled_fixtures_dir)
    mock_auth: Switch = Switch.ON
    log_level: LogLevel = LogLevel.INFO
    access_log: Switch = Switch.ON

    # Proxy mode.
    upstream_url: HttpUrl = HttpUrl(DEFAULT_UPSTREAM)
    upstream_timeout: Annotated[float, Field(gt=0, le=300)] = 10.0
    upstream_max_rps: Annotated[float, Field(gt=0)] | None = None
    ttl: Annotated[float, Field(ge=0)] = 30.0
    stale_while_revalidate: Annotated[float, Field(ge=0)] = 30.0
    stale_if_error: Annotated[float, Field(ge=0)] = 600.0
    max_entries: Annotated[int, Field(ge=1)] = 10_000
    max_bytes: Annotated[int, Field(ge=1)] = 256 * 1024 * 1024
    max_entry_bytes: Annotated[int, Field(ge=1)] = 8 * 1024 * 1024
    fallback: Fallback = Fallback.NONE
    admin_token: Annotated[SecretStr, Field(min_length=8)] | None = None

    # Record mode.
    anonymize: Switch = Switch.OFF
    record_as_default: Switch = Switch.OFF

    # Scale-out: several workers, and a cache shared through Redis.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    cache_url: SecretStr | None = None
    cache_timeout: Annotated[float, Field(gt=0, le=10)] = 0.25
    key_secret: Annotated[SecretStr, Field(min_length=16)] | None = None
    local_ttl: Annotated[float, Field(ge=0)] = 1.0

    @field_validator("cache_url")
    @classmethod
    def _redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not _is_redis_url(url.get_secret_value()):
            raise ValueError("not a Redis URL")
        return url

    @model_validator(mode="after")
    def _secret_with_cache(self) -> Settings:
        if self.cache_url is not None and self.key_secret is None:
            raise ValueError(CACHE_URL_ALONE)
        if self.mode is Mode.RECORD and self.workers > 1:
            raise ValueError(
                "--mode record runs as one process (it keeps one index of what it wrote): "
                "leave --workers / LEADS_PROXY_WORKERS at 1"
            )
        return self

    @property
    def needs_fixtures(self) -> bool:
        return self.mode is Mode.MOCK or self.fallback is Fallback.FIXTURES


def _is_redis_url(url: str) -> bool:
    """redis://[user:password@]host[:port][/db], rediss://..., or unix:///path[?db=n]."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        return False
    if parts.scheme == "unix":
        return bool(parts.path)
    db = parts.path.lstrip("/")
    return (
        parts.scheme in {"redis", "rediss"}
        and bool(parts.hostname)
        and (port is None or port > 0)
        and (not db or db.isdigit())
    )


class SettingsError(ValueError):
    """A setting has a bad value; the message is one line meant for a person."""


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def describe_settings_error(error: ValidationError) -> str:
    """One line per bad setting, naming its flag, its env twin and what is valid."""
    lines = []
    for problem in error.errors():
        if not problem["loc"]:  # a rule across settings: its message says it all
            lines.append(str(problem["msg"]).removeprefix("Value error, "))
            continue
        field = str(problem["loc"][0])
        expected = _expected(field, problem["msg"])
        given = problem.get("input")
        secret = field in SECRETS
        shown = f" {given!r}" if isinstance(given, str | int) and not secret else ""
        lines.append(f"invalid value{shown} for {flag_name(field)} / {env_name(field)}: {expected}")
    return "\n".join(lines)


def _expected(field: str, message: str) -> str:
    annotation = Settings.model_fields[field].annotation if field in Settings.model_fields else None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "expected one of " + ", ".join(str(member.value) for member in annotation)
    if field == "port":
        return "expected a whole number from 0 to 65535"
    if field == "admin_token":
        return "expected at least 8 characters"
    if field == "key_secret":
        return "expected at least 16 characters"
    if field == "cache_url":
        return "expected a Redis URL like redis://127.0.0.1:6379/0 (redis, rediss or unix)"
    if field == "upstream_url":
        return f"expected an http or https URL like {DEFAULT_UPSTREAM}"
    if field not in Settings.model_fields:
        return "unknown setting"
    if message.startswith("Input should be "):
        return "expected " + message.removeprefix("Input should be ")
    return message


def load_settings(**given: Any) -> Settings:
    """Build Settings from flags given (None means not given) over the environment."""
    try:
        return Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as error:
        raise SettingsError(describe_settings_error(error)) from None
