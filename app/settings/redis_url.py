"""`--cache-url`: the Redis URLs leads-proxy reads, and what each one names.

    redis://[user:password@]host[:port][/db][?options]   one server, or any node of a cluster
    rediss://...?ssl_ca_certs=/ca.pem&ssl_certfile=/me.pem&ssl_keyfile=/me.key
    unix:///path/to/redis.sock[?db=n]
    redis+sentinel://[user:password@]host:port[,host:port...]/service[/db][?options]
    rediss+sentinel://...                                 TLS to the sentinels and the servers

`options` are redis-py's own URL options (`socket_timeout`, ...), the TLS
ones under redis-py's names (`ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`,
`ssl_cert_reqs`, `ssl_check_hostname`), and for Sentinel `sentinel_username`
and `sentinel_password` (the user and password, if any, are the servers').
Whether a `redis://` server is a cluster is found out by asking it. An error
names what is wrong, never a password.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
CLIENT_FILES = ("ssl_certfile", "ssl_keyfile")
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
NOT_REDIS = "not a Redis URL"
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HOST_PORT = re.compile(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """What a `--cache-url` names: a URL for redis-py, or sentinels and a service."""

    url: str  # redis-py's form: TLS and Sentinel options taken out (unused for Sentinel)
    tls: dict[str, str] = field(default_factory=dict)  # the TLS options given
    uses_tls: bool = False
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # redis-py's URL options, parsed
    sentinel_auth: dict[str, str] = field(default_factory=dict)

    @property
    def sentinel(self) -> bool:
        return bool(self.sentinels)


def parse_redis_url(url: str) -> RedisTarget:
    """The target `url` names; ValueError saying what is wrong (never with a password)."""
    scheme = url.partition("://")[0].lower()
    if scheme in {"redis+sentinel", "rediss+sentinel"}:
        return _sentinel(url, tls=scheme == "rediss+sentinel")
    if scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(NOT_REDIS)
    parts = _split(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    tls = _tls_options(query, tls=scheme == "rediss")
    _no_sentinel_options(query)
    rest = urlencode([(name, value) for name, value in query if name not in TLS_OPTIONS])
    plain = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    if scheme == "unix":
        if not parts.path:
            raise ValueError(NOT_REDIS)
    else:
        db = parts.path.lstrip("/")
        if not parts.hostname or parts.port == 0 or (db and not db.isdigit()):
            raise ValueError(NOT_REDIS)
    return RedisTarget(url=plain, tls=tls, uses_tls=scheme == "rediss", options=_options(plain))


def tls_context(target: RedisTarget) -> ssl.SSLContext | None:
    """One TLS context for every connection (making one costs ~70 ms of CPU); None
    without TLS. ValueError when a file named cannot be used."""
    if not target.uses_tls:
        return None
    given = target.tls
    reqs = CERT_REQS[given.get("ssl_cert_reqs", "required")]
    ca = given.get("ssl_ca_certs")
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"ssl_ca_certs {ca!r}: {_reason(error)}") from None
    if "ssl_certfile" in given:
        try:
            context.load_cert_chain(given["ssl_certfile"], given.get("ssl_keyfile"))
        except (OSError, ssl.SSLError) as error:
            files = ", ".join(
                given[name] for name in ("ssl_certfile", "ssl_keyfile") if name in given
            )
            raise ValueError(f"ssl_certfile/ssl_keyfile {files!r}: {_reason(error)}") from None
    check = given.get("ssl_check_hostname", "true").lower() in {"true", "yes", "1", "on"}
    context.check_hostname = check and reqs != ssl.CERT_NONE
    context.verify_mode = reqs
    return context


def _sentinel(url: str, *, tls: bool) -> RedisTarget:
    rest = url.partition("://")[2]
    rest, _, fragment = rest.partition("#")
    rest, _, query_text = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if fragment:
        raise ValueError(NOT_REDIS)
    username, _, password = userinfo.partition(":") if at else ("", "", "")
    sentinels = []
    for host_port in hosts.split(","):
        match = _HOST_PORT.fullmatch(host_port.strip())
        if match is None or not 0 < int(match[2]) < 65536:
            raise ValueError("each sentinel must be host:port, separated by commas")
        sentinels.append((match[1].strip("[]"), int(match[2])))
    service, _, db = path.strip("/").partition("/")
    if not _SERVICE.fullmatch(service):
        raise ValueError("name the Sentinel service: redis+sentinel://host:port,.../service[/db]")
    if db and not db.isdigit():
        raise ValueError("the db after the service must be a number")
    query = parse_qsl(query_text, keep_blank_values=True)
    tls_given = _tls_options(query, tls=tls)
    auth = {name: value for name, value in query if name in SENTINEL_OPTIONS}
    others = urlencode([(n, v) for n, v in query if n not in TLS_OPTIONS + SENTINEL_OPTIONS])
    return RedisTarget(
        url="",
        tls=tls_given,
        uses_tls=tls,
        sentinels=tuple(sentinels),
        service=service,
        db=int(db or 0),
        username=unquote(username) or None,
        password=unquote(password) or None,
        options=_options(f"redis://localhost/?{others}"),
        sentinel_auth=auth,
    )


def _split(url: str) -> Any:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise ValueError(NOT_REDIS) from None
    return parts


def _tls_options(query: list[tuple[str, str]], *, tls: bool) -> dict[str, str]:
    given = {name: value for name, value in query if name in TLS_OPTIONS}
    if given and not tls:
        raise ValueError(f"option {next(iter(given))!r} needs TLS: write rediss://")
    reqs = given.get("ssl_cert_reqs", "required")
    if reqs not in CERT_REQS:
        raise ValueError(f"ssl_cert_reqs must be one of none, optional, required, not {reqs!r}")
    if "ssl_keyfile" in given and "ssl_certfile" not in given:
        raise ValueError("ssl_keyfile needs ssl_certfile (the client certificate)")
    return given


def _no_sentinel_options(query: list[tuple[str, str]]) -> None:
    for name, _ in query:
        if name in SENTINEL_OPTIONS:
            raise ValueError(f"option {name!r} needs a redis+sentinel:// URL")


def _options(url: str) -> dict[str, Any]:
    """redis-py's URL options, checked: an unknown or ill-typed one is refused."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url  # noqa: PLC0415

    try:
        options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as error:
        raise ValueError(str(error).rstrip(".")) from None
    known = {"host", "port", "db", "username", "password", "path", "connection_class"}
    unknown = sorted(set(options) - known - set(URL_QUERY_ARGUMENT_PARSERS))
    if unknown:
        raise ValueError(f"unknown option {unknown[0]!r} in connection URL")
    return {name: value for name, value in options.items() if name not in known}


def _reason(error: OSError) -> str:
    if isinstance(error, ssl.SSLError):  # NO_CERTIFICATE_OR_CRL_FOUND, KEY_VALUES_MISMATCH, ...
        return f"not usable in PEM form ({error.reason or error})"
    return error.strerror or str(error)
