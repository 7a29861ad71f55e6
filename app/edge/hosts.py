"""`--allowed-hosts`: the Host values this server answers, checked before anything runs.

A page on any site can make the browser send requests to a name it controls
that resolves to 127.0.0.1 (DNS rebinding): to the browser it is the page's own
origin, so it reads the answers. The Host header still names the page's host,
so a server that answers only the names it is reached by closes the hole, as
Vite and webpack-dev-server do. Answered without a check: IP addresses (no
name to rebind), `localhost` and its subdomains, the name the server listens
on, the names in `--allowed-hosts` (`.example.com` for it and its subdomains),
and an HTTP/1.0 request with no Host at all. `*` answers any name.

A Host that names no host (two Host headers, a malformed value) is a 400 in
every case; one that names a host not allowed, a 421.
"""

from __future__ import annotations

from collections.abc import Iterable

import httptools

from ..http.hosts import NOT_A_HOST, host_name, is_address
from ..http.reply import Reply

REMEMBERED = 1024  # Host values remembered as allowed; past it, each is checked anew
NOT_ALLOWED = Reply.message(
    421,
    {
        "message": "This server does not answer for the host named in the Host header: "
        "start it with --allowed-hosts naming that host (or * behind a proxy that "
        "checks Host)."
    },
    (b"connection", b"close"),
)
LOCAL = frozenset({"localhost"})


class AllowedHosts:
    """The Host values a server answers; `refusal` on every request, one set lookup
    for a value seen before."""

    def __init__(self, names: Iterable[str], *, listening_on: str = "") -> None:
        wanted = {name.strip().lower().rstrip(".") for name in names if name.strip()}
        self.any = "*" in wanted
        self.names = LOCAL | {name for name in wanted if not name.startswith(".")}
        if listening_on and host_name(listening_on.encode("ascii", "replace")):
            self.names |= {listening_on.lower()}
        self.suffixes = (".localhost", *(name for name in wanted if name.startswith(".")))
        self.allowed: set[bytes] = set()

    def refusal(self, host: bytes | None, http_version: str = "1.1") -> Reply | None:
        """None where the Host is one this server answers; else the answer."""
        if host in self.allowed:
            return None
        if host is None:  # only HTTP/1.0 may send none (RFC 9112 3.2)
            return None if http_version == "1.0" else NOT_A_HOST
        name = host_name(host)
        if name is None:
            return NOT_A_HOST
        if not (
            self.any
            or name in self.names
            or is_address(name)
            or name.endswith(self.suffixes)
            or f".{name}" in self.suffixes
        ):
            return NOT_ALLOWED
        if len(self.allowed) < REMEMBERED:
            self.allowed.add(host)
        return None


def target_host(target: bytes) -> bytes | None:
    """The host[:port] of an absolute-form request target (`http://host/path`), which
    stands for the Host header; None when it names none."""
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        return None
    if url.schema.lower() not in {b"http", b"https"} or not url.host:
        return None
    host = b"[%s]" % url.host if b":" in url.host else url.host  # IPv6 comes bare
    return host if url.port is None else b"%s:%d" % (host, url.port)
