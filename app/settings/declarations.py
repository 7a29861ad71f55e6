"""Settings and modes.

Nothing here is built at import time: the CLI (or a test) builds `Settings`,
so every value can come from a flag, from its `LEADS_PROXY_<NAME>` env twin,
or from a default, in that order of precedence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from . import defaults
from .field import setting
from .serving import ServingSettings
from .values import (
    Fallback,
    LogFormat,
    LogLevel,
    Mode,
    ReplayMode,
    Switch,
    host_list,
    origin_list,
    per_minute,
    redis_url,
)

ENV_PREFIX = "LEADS_PROXY_"
DEFAULT_UPSTREAM = "https://app.sondos-ai.com/api"
SECRETS = frozenset({"admin_token", "key_secret", "cache_url"})  # never echoed back
CACHE_URL_ALONE = (
    "--cache-url / LEADS_PROXY_CACHE_URL needs --key-secret / LEADS_PROXY_KEY_SECRET: "
    "the same secret of at least 16 characters on every process sharing the cache "
    "(for example from `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
)


class Settings(ServingSettings):
    """Every setting of the server; each has a CLI flag and an env var twin."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    mode: Mode = setting(Mode.MOCK, "how to answer: mock replays fixtures offline")
    host: str = setting("127.0.0.1", "interface to listen on", metavar="HOST", min_length=1)
    port: int = setting(8000, "TCP port to listen on", metavar="PORT", ge=0, le=65535)
    fixtures: Path = setting(
        defaults.bundled_fixtures_dir,
        "fixtures directory, holding leads/<name>.json",
        metavar="DIR",
    )
    mock_auth: Switch = setting(
        Switch.ON, "answer 401 without an 'Authorization: Bearer ...' header, like the real API"
    )
    log_level: LogLevel = setting(LogLevel.INFO, "log verbosity")
    log_format: LogFormat = setting(
        LogFormat.TEXT, "json: every log line one JSON object (ts, level, event, method, ...)"
    )
    access_log: Switch = setting(
        Switch.ON, "log one line per request (buffered, flushed each second)"
    )
    cors_origins: Annotated[str | None, AfterValidator(origin_list)] = setting(
        None,
        "browser origins that may call (CORS): a comma-separated list, or * for any; "
        "default * in mock mode, none in proxy and record modes",
        metavar="ORIGINS",
        expected="origins like http://localhost:5173,https://app.example.com, or *, or none",
    )
    allowed_hosts: Annotated[str | None, AfterValidator(host_list)] = setting(
        None,
        "Host names answered besides IP addresses, localhost and the --host name: a "
        "comma-separated list (.example.com: it and its subdomains), or * for any",
        metavar="HOSTS",
        expected="host names like api.example.com,.corp.example, or *",
    )
    journal_size: int = setting(
        1000,
        "requests kept for GET /_proxy/requests (0: no journal)",
        metavar="N",
        ge=0,
        le=defaults.MAX_JOURNAL_SIZE,
    )
    replay: ReplayMode = setting(
        ReplayMode.AUTO,
        "mock mode: answer recorded requests from their recordings (recordings.json), "
        "the rest by emulating filters over the fixtures; recorded: recordings only",
    )
    mock_rate_limit: Annotated[str | None, AfterValidator(per_minute)] = setting(
        None,
        "mock mode: answer 429 past N requests a minute per key, as the real API's throttle",
        metavar="N/minute",
        expected="a number of requests a minute, like 60/minute",
    )
    state_file: Path | None = setting(
        None,
        "mock mode: keep the keys' writes in this SQLite file across restarts "
        "(default: in the server's own folder, gone at exit)",
        metavar="PATH",
    )

    upstream_url: HttpUrl = setting(
        HttpUrl(DEFAULT_UPSTREAM),
        "the real API's base URL",
        group="proxy",
        metavar="URL",
        expected=f"an http or https URL like {DEFAULT_UPSTREAM}",
    )
    upstream_timeout: float = setting(
        defaults.UPSTREAM_TIMEOUT,
        "seconds to wait for the upstream",
        group="proxy",
        metavar="SECONDS",
        gt=0,
        le=300,
    )
    upstream_max_rps: float | None = setting(
        None,
        "at most this many upstream requests per second, for the whole process",
        group="proxy",
        metavar="RPS",
        gt=0,
    )
    ttl: float = setting(
        defaults.TTL, "seconds an answer is fresh", group="proxy", metavar="SECONDS", ge=0
    )
    stale_while_revalidate: float = setting(
        defaults.STALE_WHILE_REVALIDATE,
        "seconds past the TTL an answer is still served while refreshed in the background",
        group="proxy",
        metavar="SECONDS",
        ge=0,
    )
    stale_if_error: float = setting(
        defaults.STALE_IF_ERROR,
        "seconds past the TTL an answer may stand in for a failed or rate-limited upstream",
        group="proxy",
        metavar="SECONDS",
        ge=0,
    )
    max_body_bytes: int = setting(
        1024 * 1024,
        "the largest request body passed through to the upstream or written in mock mode; "
        "larger ones answer 413",
        group="proxy",
        metavar="BYTES",
        ge=0,
    )
    max_cooldown: float = setting(
        defaults.MAX_COOLDOWN,
        "the longest an upstream's Retry-After may hold a key back",
        group="proxy",
        metavar="SECONDS",
        gt=0,
        le=86400,
    )
    max_entries: int = setting(10_000, "most answers cached", group="proxy", metavar="N", ge=1)
    max_bytes: int = setting(
        256 * 1024 * 1024, "most bytes of answers cached", group="proxy", metavar="BYTES", ge=1
    )
    max_entry_bytes: int = setting(
        defaults.MAX_ENTRY_BYTES,
        "larger answers are passed on, not cached",
        group="proxy",
        metavar="BYTES",
        ge=1,
    )
    fallback: Fallback = setting(
        Fallback.NONE,
        "when the upstream fails and nothing is cached: none (502/504) or fixtures",
        group="proxy",
    )
    admin_token: SecretStr | None = setting(
        None,
        "bearer token for DELETE /_proxy/cache; purging is off without it "
        "(prefer the env var: a flag shows in the process list)",
        group="proxy",
        metavar="TOKEN",
        min_length=8,
    )

    anonymize: Switch = setting(
        Switch.OFF,
        "replace phone numbers, names and emails with consistent fakes before writing",
        group="record",
        bare="on",
    )
    max_recordings: int = setting(
        1000,
        "most distinct queries written; answers to others are served, not written",
        group="record",
        metavar="N",
        ge=1,
    )
    record_as_default: Switch = setting(
        Switch.OFF,
        "also write the answer to the unfiltered listing as leads/default.json",
        group="record",
        bare="on",
    )

    cache_url: SecretStr | None = setting(
        None,
        "Redis (or Valkey) holding the cache, fill locks, 429 cooldowns and the "
        "--upstream-max-rps budget for every process: one server or any node of a "
        "cluster (redis://127.0.0.1:6379/0, rediss://...?ssl_ca_certs=FILE) or "
        "sentinels (redis+sentinel://host:port,.../service)",
        group="scale",
        metavar="URL",
        expected="a Redis URL like redis://127.0.0.1:6379/0 (redis, rediss, unix, "
        "redis+sentinel or rediss+sentinel)",
    )
    cache_timeout: float = setting(
        defaults.CACHE_TIMEOUT,
        "seconds a Redis call may take before Redis counts as down",
        group="scale",
        metavar="SECONDS",
        gt=0,
        le=10,
    )
    key_secret: SecretStr | None = setting(
        None,
        "HMAC secret for cache keys, the same on every process; required with --cache-url "
        "(prefer the env var)",
        group="scale",
        metavar="SECRET",
        min_length=16,
    )
    local_ttl: float = setting(
        defaults.LOCAL_TTL,
        "seconds a hit is answered from process memory before Redis is asked for a newer copy",
        group="scale",
        metavar="SECONDS",
        ge=0,
    )

    @field_validator("cache_url")
    @classmethod
    def _redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None:
            redis_url(url.get_secret_value())
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

    @property
    def cors_list(self) -> tuple[str, ...]:
        """The allowed browser origins: `*` for any; empty for none."""
        if self.cors_origins is None:
            return ("*",) if self.mode is Mode.MOCK else ()
        if self.cors_origins == "none":
            return ()
        return tuple(self.cors_origins.split(","))

    @property
    def rate_limit(self) -> int | None:
        """Mock mode's requests a minute per key, or None."""
        return None if self.mock_rate_limit is None else int(self.mock_rate_limit.split("/")[0])
