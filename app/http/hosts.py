"""The Host a request names: whether it is one, and the name in it.

A Host value is a name or an IPv4 address, or a bracketed IPv6 address, and an
optional port 1-65535, with optional whitespace around it (RFC 9110 5.5).
Anything else (two Host headers, quotes, backslashes, spaces: bytes that would
change a page URL or the JSON it is written into) names no host.
"""

from __future__ import annotations

import ipaddress
import re

from .reply import Reply

# `_` is no part of a DNS name but is of Docker Compose service names.
_HOST = re.compile(
    rb"(?P<name>[A-Za-z0-9_][A-Za-z0-9._-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>\d{1,5}))?"
)
MAX_PORT = 65_535
HOST_SPACE = " \t"  # optional whitespace around a field value (RFC 9110 5.5)
NOT_A_HOST = Reply.message(
    400,
    {"message": "The Host header does not name a host: one name or address, and an optional port."},
    (b"connection", b"close"),
)


def host_name(host: bytes) -> str | None:
    """The name (or address) a Host value names, in lower case and without its port;
    None when the value is not a host."""
    found = _HOST.fullmatch(host.strip(HOST_SPACE.encode()))
    if found is None or not 0 < int(found["port"] or 80) <= MAX_PORT:
        return None
    name = found["name"].decode("ascii").lower().rstrip(".")  # localhost. is localhost
    if name.startswith("[") and not is_address(name):
        return None
    return name


def is_address(name: str) -> bool:
    """Whether a host name is an IP address (IPv6 in brackets): no DNS name."""
    try:
        ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True
