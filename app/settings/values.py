"""The values settings take: the choices (modes, switches, formats), and readers for
the settings whose type alone cannot say what is good: a Redis URL and its options,
a list of browser origins, a rate a minute. Each reader returns the value in its
one spelling, or raises ValueError with what is wrong (never the value itself
where it may hold a secret)."""

from __future__ import annotations

import enum
import re

from .redis_url import NOT_REDIS, parse_redis_url, tls_context


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


class ReplayMode(enum.StrEnum):
    """Mock mode: which answers come from recordings."""

    AUTO = "auto"  # recorded requests from their recording, the rest emulated
    RECORDED = "recorded"  # recordings only: anything else is a 404
    EMULATED = "emulated"  # recordings ignored


class Server(enum.StrEnum):
    """The HTTP server under the app."""

    UVICORN = "uvicorn"
    GRANIAN = "granian"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


BAD_OPTION = "bad option: "
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#,]+")
_PER_MINUTE = re.compile(r"(\d{1,9})\s*(?:/\s*(?:minute|min|m))?")
_HOST_NAME = re.compile(r"\.?[a-z0-9][a-z0-9.-]{0,252}|\[[0-9a-f:.]{2,45}\]")


def redis_url(url: str) -> str:
    """`url` if it is a Redis URL leads-proxy reads (`settings.redis_url`), its TLS
    files usable."""
    try:
        tls_context(parse_redis_url(url))
    except ValueError as error:
        if str(error) == NOT_REDIS:
            raise
        raise ValueError(BAD_OPTION + str(error)) from None
    return url


def origin_list(value: str | None) -> str | None:
    """`--cors-origins`: origins joined by commas, `*`, or `none`."""
    if value is None:
        return None
    origins = [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
    if origins == ["none"]:
        return "none"
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{origin!r} is not an origin (scheme://host[:port])")
    return ",".join(origins) or "none"


def host_list(value: str | None) -> str | None:
    """`--allowed-hosts`: host names (`.name` for it and its subdomains) joined by
    commas, or `*`."""
    if value is None:
        return None
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    for name in names:
        if name != "*" and not _HOST_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a host name")
    return ",".join(names) or None


def per_minute(value: str | None) -> str | None:
    """`--mock-rate-limit`: `N/minute` (None for off)."""
    if value is None or value.strip() in {"off", "0"}:
        return None
    match = _PER_MINUTE.fullmatch(value.strip())
    if match is None or int(match[1]) < 1:
        raise ValueError("not N/minute")
    return f"{int(match[1])}/minute"
