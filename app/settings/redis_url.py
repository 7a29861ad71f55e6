"""`--cache-url`: the Redis URLs leads-proxy reads, and what each one names.

    redis://[user:password@]host[:port][/db][?options]   one server, or any node of a cluster
    rediss://...?ssl_ca_certs=/ca.pem&ssl_certfile=/me.pem&ssl_keyfile=/me.key
    unix:///path/to/redis.sock[?db=n]
    redis+sentinel://[user:password@]host:port[,host:port...]/service[/db][?options]
    rediss+sentinel://...                                 TLS to the sentinels and the servers

`options` are the few of redis-py's URL options that leave leads-proxy's own
choices alone (`max_connections`, `socket_keepalive`, `socket_read_size`;
timeouts come from `--cache-timeout`, and no call is retried), the TLS
ones under redis-py's names (`ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`,
`ssl_cert_reqs`, `ssl_check_hostname`), and for Sentinel `sentinel_username`
and `sentinel_password` (the user and password, if any, are the servers').
Whether a `redis://` server is a cluster is found out by asking it. An error
names what is wrong, never a password.
"""

from __future__ import annotations

import re
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
CLIENT_FILES = ("ssl_certfile", "ssl_keyfile")
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
NOT_REDIS = "not a Redis URL"
MAX_URL = 4096
MAX_SENTINELS = 16
ALLOWED = ("max_connections", "socket_keepalive", "socket_read_size")  # of redis-py's
OURS = ("socket_timeout", "socket_connect_timeout", "timeout", "retry_on_timeout",
        "retry_on_error", "health_check_interval")  # fmt: skip
UNSUPPORTED = ("protocol", "legacy_responses")  # they change what replies look like
TRUE, FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HOST = r"(\[[0-9a-fA-F.]*:[0-9a-fA-F:.]*\]|[A-Za-z0-9][A-Za-z0-9._-]{0,252})"
_HOST_PORT = re.compile(_HOST + r":([0-9]{1,5})")
_PLAIN_HOST = re.compile(_HOST)
_DB = re.compile(r"[0-9]{1,6}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """What a `--cache-url` names: a URL for redis-py, or sentinels and a service."""

    url: str = field(repr=False)  # redis-py's form, TLS and Sentinel options out (not Sentinel)
    tls: dict[str, str] = field(default_factory=dict)  # the TLS options given
    uses_tls: bool = False
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)  # redis-py's URL options, parsed
    sentinel_auth: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def sentinel(self) -> bool:
        return bool(self.sentinels)

    @property
    def check_hostname(self) -> bool:
        return self.tls.get("ssl_check_hostname", "true") in TRUE


def parse_redis_url(url: str) -> RedisTarget:
    """The target `url` names; ValueError saying what is wrong (never with a password)."""
    if len(url) > MAX_URL:
        raise ValueError(f"over {MAX_URL} characters")
    if _CONTROL.search(url):
        raise ValueError("a control character in the URL")
    scheme = url.partition("://")[0].lower()
    if scheme in {"redis+sentinel", "rediss+sentinel"}:
        return _sentinel(url, tls=scheme == "rediss+sentinel")
    if scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(NOT_REDIS)
    parts = _split(url)
    query = _query(parts.query, sentinel=False)
    tls = _tls_options(query, tls=scheme == "rediss")
    rest = urlencode([(name, value) for name, value in query if name not in TLS_OPTIONS])
    plain = f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    if scheme == "unix":
        if parts.path.strip("/") == "" or parts.fragment:
            raise ValueError(NOT_REDIS)
        if _CONTROL.search(unquote(parts.path)):
            raise ValueError("a control character in the socket's path")
    else:
        db, name = parts.path.lstrip("/"), _host_of(parts.netloc)
        if not parts.hostname or parts.port == 0 or parts.fragment:
            raise ValueError(NOT_REDIS)
        if not _PLAIN_HOST.fullmatch(name) or (db and not _DB.fullmatch(db)):
            raise ValueError(NOT_REDIS)
    return RedisTarget(url=plain, tls=tls, uses_tls=scheme == "rediss", options=_options(plain))


def tls_context(target: RedisTarget) -> ssl.SSLContext | None:
    """One TLS context for every connection (making one costs ~70 ms of CPU); None
    without TLS. ValueError when a file named cannot be used."""
    if not target.uses_tls:
        return None
    given = target.tls
    for name in ("ssl_ca_certs", *CLIENT_FILES):
        if name in given:
            _regular_file(name, given[name])
    reqs = CERT_REQS[given.get("ssl_cert_reqs", "required")]
    ca = given.get("ssl_ca_certs")
    problem = None
    try:
        context = ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as error:
        problem = f"ssl_ca_certs {_shown(ca or '')}: {_reason(error)}"
    if problem is None and "ssl_certfile" in given:
        problem = _load_client(context, given["ssl_certfile"], given.get("ssl_keyfile"))
    if problem is not None:
        raise ValueError(problem)
    context.check_hostname = target.check_hostname and reqs != ssl.CERT_NONE
    context.verify_mode = reqs
    return context


def _load_client(context: ssl.SSLContext, certfile: str, keyfile: str | None) -> str | None:
    """The client certificate into `context`; what is wrong with it, if anything."""

    def no_passphrase() -> str:
        raise _Encrypted

    try:
        context.load_cert_chain(certfile, keyfile, password=no_passphrase)
    except _Encrypted:
        return "ssl_keyfile is encrypted: give an unencrypted key (no passphrase is asked)"
    except (OSError, ssl.SSLError) as error:
        files = ", ".join(file for file in (certfile, keyfile) if file)
        return f"ssl_certfile/ssl_keyfile {_shown(files)}: {_reason(error)}"
    return None


class _Encrypted(Exception):
    """The key asks for a passphrase."""


def _regular_file(name: str, path: str) -> None:
    """Refuse what is not a regular file before opening it (a FIFO would hang the start)."""
    if not path:
        raise ValueError(f"{name} is empty")
    problem: str | None
    try:
        mode = Path(path).stat().st_mode
    except OSError as error:
        problem = f"{name} {_shown(path)}: {error.strerror or error}"
    else:
        problem = None if stat.S_ISREG(mode) else f"{name} {_shown(path)}: not a file"
    if problem is not None:
        raise ValueError(problem)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 200 else text[:200] + "...")


def _sentinel(url: str, *, tls: bool) -> RedisTarget:
    rest = url.partition("://")[2]
    rest, _, fragment = rest.partition("#")
    rest, _, query_text = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if fragment:
        raise ValueError(NOT_REDIS)
    username, _, password = userinfo.partition(":") if at else ("", "", "")
    sentinels: list[tuple[str, int]] = []
    named = hosts.split(",")
    if len(named) > MAX_SENTINELS:
        raise ValueError(f"at most {MAX_SENTINELS} sentinels")
    for host_port in named:
        match = _HOST_PORT.fullmatch(host_port.strip())
        if match is None or not 0 < int(match[2]) < 65536:
            raise ValueError("each sentinel must be host:port, separated by commas")
        sentinel = (match[1].strip("[]"), int(match[2]))
        if sentinel in sentinels:
            raise ValueError(f"sentinel {host_port.strip()!r} is named twice")
        sentinels.append(sentinel)
    service, _, db = path.strip("/").partition("/")
    if not _SERVICE.fullmatch(service):
        raise ValueError("name the Sentinel service: redis+sentinel://host:port,.../service[/db]")
    if db and not _DB.fullmatch(db):
        raise ValueError("the db after the service must be a number")
    query = _query(query_text, sentinel=True)
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
        parts = None  # raised below, out of the handler: the error keeps no part of the URL
    if parts is None:
        raise ValueError(NOT_REDIS)
    return parts


def _host_of(netloc: str) -> str:
    """The host as written (not decoded): what follows any userinfo, before any port."""
    host_port = netloc.rpartition("@")[2]
    if host_port.startswith("["):
        return host_port.partition("]")[0] + "]"
    return host_port.partition(":")[0]


def _query(text: str, *, sentinel: bool) -> list[tuple[str, str]]:
    """The options, each known, given once and free of control characters."""
    query = parse_qsl(text, keep_blank_values=True)
    known = (*ALLOWED, *TLS_OPTIONS, *(SENTINEL_OPTIONS if sentinel else ("db",)))
    seen: set[str] = set()
    for name, value in query:
        if name in seen:
            raise ValueError(f"option {name[:50]!r} is given twice")
        seen.add(name)
        if _CONTROL.search(name + value):
            raise ValueError("a control character in the URL's options")
        if name in OURS:
            raise ValueError(f"option {name!r} is leads-proxy's own (--cache-timeout, no retry)")
        if name in SENTINEL_OPTIONS and not sentinel:
            raise ValueError(f"option {name!r} needs a redis+sentinel:// URL")
        if (name.startswith("ssl_") and name not in TLS_OPTIONS) or name in UNSUPPORTED:
            raise ValueError(f"option {name!r} is not supported")
        if name not in known:
            raise ValueError(f"unknown option {name[:50]!r} in connection URL")
    return query


def _tls_options(query: list[tuple[str, str]], *, tls: bool) -> dict[str, str]:
    given = {name: value for name, value in query if name in TLS_OPTIONS}
    if given and not tls:
        raise ValueError(f"option {next(iter(given))!r} needs TLS: write rediss://")
    reqs = given.get("ssl_cert_reqs", "required")
    if reqs not in CERT_REQS:
        raise ValueError(f"ssl_cert_reqs must be one of none, optional, required, not {reqs!r}")
    check = given.get("ssl_check_hostname", "true").lower()
    if check not in TRUE | FALSE:
        raise ValueError(f"ssl_check_hostname must be true or false, not {check[:20]!r}")
    if "ssl_check_hostname" in given:
        given["ssl_check_hostname"] = "true" if check in TRUE else "false"
    if "ssl_keyfile" in given and "ssl_certfile" not in given:
        raise ValueError("ssl_keyfile needs ssl_certfile (the client certificate)")
    return given


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
