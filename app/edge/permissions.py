"""Who may read the views that show traffic, and who may change what the server holds.

In proxy and record modes the journal and the status data show every key's
paths, queries and times: with `--admin-token` set, they need
`Authorization: Bearer <admin token>`; without one, they answer loopback
clients only (behind a trusted proxy, the client it names). Clearing or
setting anything needs the token where one is set. Mock mode is a developer's
tool with no one else's traffic: its views stay open (the Host check keeps
other sites' pages out), and the token, where set, guards its changes.
`health`, `ready`, `stats` and `metrics` are for probes and stay open.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request
from starlette.exceptions import HTTPException

from ..http.keys import bearer_token
from ..settings.declarations import Settings
from ..settings.values import Mode

UNAUTHENTICATED = "Unauthenticated."
LOOPBACK_ONLY = (
    "This view shows the traffic of every key: it answers loopback clients only. "
    "Start leads-proxy with --admin-token to open it to others who send it "
    "(Authorization: Bearer <token>)."
)


async def viewer(request: Request) -> None:
    """A dependency: the client may read the views that show traffic (or a 401/403)."""
    settings: Settings = request.app.state.settings
    if settings.mode is Mode.MOCK:
        return
    if settings.admin_token is not None:
        _check_token(request, settings)
    elif not is_loopback(request):
        raise HTTPException(403, LOOPBACK_ONLY)


async def changer(request: Request) -> None:
    """A dependency: the client may clear or set what the server holds (or a 401/403)."""
    settings: Settings = request.app.state.settings
    if settings.admin_token is not None:
        _check_token(request, settings)
    elif settings.mode is not Mode.MOCK and not is_loopback(request):
        raise HTTPException(403, LOOPBACK_ONLY)


def _check_token(request: Request, settings: Settings) -> None:
    token = bearer_token(request.headers.get("authorization", "").encode("latin-1"))
    expected = settings.admin_token.get_secret_value().encode() if settings.admin_token else b""
    if token is None or not hmac.compare_digest(token, expected):
        raise HTTPException(401, UNAUTHENTICATED, headers={"www-authenticate": "Bearer"})


def is_loopback(request: Request) -> bool:
    """Whether the client is on this machine (127.0.0.0/8, ::1)."""
    client = request.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return False
