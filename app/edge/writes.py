"""Mock mode's lead writes and campaigns list, and the reset of their state.

Each route only translates: the body (bounded), the lead id of the path, then
`MockService.write` (auth, rate limit, scenario) around the operation of
`mock.writes`. Every path has its short alias, as the listing has `/leads`.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.responses import JSONResponse

from ..http.etag import etag_matches
from ..http.reply import Reply
from ..mock.answers import CREATE_SCENARIOS, EMULATED
from ..mock.bodies import lead_changes, new_lead
from ..mock.replay import PRIVATE
from ..mock.writes import LEAD_NOT_FOUND, Writes, read_body
from .admin import given_once
from .asgi import SERVED
from .deps import MockDep, SettingsDep
from .permissions import changer
from .routes import bearer, bounded_body, incoming, ready

router = APIRouter(dependencies=[Security(bearer)], tags=["leads"])
state_router = APIRouter(prefix="/_proxy", tags=["operations"])
LEAD_ID = re.compile(r"[1-9][0-9]{0,17}")  # as the listing's ids: 1 .. 10^18 - 1


def writes(request: Request) -> Writes:
    found: Writes = request.app.state.writes
    return found


WritesDep = Annotated[Writes, Depends(writes)]


async def _served(reply: Reply) -> Response:
    if reply.delay:
        await asyncio.sleep(reply.delay)
    return ready(reply)


async def create_lead(
    request: Request, service: MockDep, settings: SettingsDep, writes: WritesDep
) -> Response:
    """Create a lead in a campaign (with its secondary contacts)."""
    body = await bounded_body(request, settings.max_body_bytes)
    if body is None:
        return _too_large(settings.max_body_bytes)

    async def create(key: str, shown: str) -> Reply:
        new = read_body(body, new_lead)
        return new if isinstance(new, Reply) else await writes.create(key, shown, new)

    served = await service.write(incoming(request, body), create, CREATE_SCENARIOS)
    request.scope[SERVED] = served
    return await _served(served.reply)


async def update_lead(
    request: Request,
    service: MockDep,
    settings: SettingsDep,
    writes: WritesDep,
    lead_id: str,
) -> Response:
    """Update a lead: only the fields given change; its variables are merged."""
    body = await bounded_body(request, settings.max_body_bytes)
    if body is None:
        return _too_large(settings.max_body_bytes)

    async def update(key: str, shown: str) -> Reply:
        if not LEAD_ID.fullmatch(lead_id):
            return LEAD_NOT_FOUND
        changes = read_body(body, lead_changes)
        if isinstance(changes, Reply):
            return changes
        return await writes.update(key, shown, int(lead_id), changes)

    served = request.scope[SERVED] = await service.write(incoming(request, body), update)
    return await _served(served.reply)


async def delete_lead(
    request: Request, service: MockDep, writes: WritesDep, lead_id: str
) -> Response:
    """Delete a lead, for good."""

    async def delete(key: str, shown: str) -> Reply:
        if not LEAD_ID.fullmatch(lead_id):
            return LEAD_NOT_FOUND
        return await writes.delete(key, shown, int(lead_id))

    served = request.scope[SERVED] = await service.write(incoming(request), delete)
    return await _served(served.reply)


async def list_campaigns(request: Request, service: MockDep, writes: WritesDep) -> Response:
    """List the campaigns of the authenticated user."""
    campaigns = writes.campaigns
    listed = Reply.json(200, campaigns.body, (b"etag", campaigns.etag), PRIVATE, EMULATED)
    listed = listed.with_gzip(campaigns.gzipped)

    async def answer(key: str, shown: str) -> Reply:
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and etag_matches(if_none_match.encode(), campaigns.etag):
            return listed.not_modified()
        return listed

    served = request.scope[SERVED] = await service.write(incoming(request), answer)
    return await _served(served.reply.for_client(_accepted(request)))


def _accepted(request: Request) -> bytes | None:
    found = request.headers.get("accept-encoding")
    return None if found is None else found.encode("latin-1")


# The API's paths are documented (edge.openapi); their short aliases answer the same.
for prefix, documented in (("/api/user", True), ("", False)):
    for path, operation, method in (
        ("/lead", create_lead, "POST"),
        ("/leads/{lead_id}", update_lead, "PUT"),
        ("/leads/{lead_id}", delete_lead, "DELETE"),
        ("/campaigns", list_campaigns, "GET"),
    ):
        name = operation.__name__ if documented else f"{operation.__name__}_alias"
        router.add_api_route(
            prefix + path,
            operation,
            methods=[method],
            operation_id=name,
            include_in_schema=documented,
        )


@state_router.delete("/state", dependencies=[Depends(changer), Depends(given_once)])
async def forget_state(
    writes: WritesDep,
    key: Annotated[str | None, Query(pattern="^[0-9a-f]{8}$")] = None,
) -> JSONResponse:
    """Mock mode: forget every key's writes (`?key=<fingerprint>`: one key's), so the
    listings are the fixtures' again. Needs the admin token where one is set."""
    keys, leads = await writes.state.forget(key)
    return JSONResponse({"forgotten": {"keys": keys, "leads": leads}, "key": key})


def _too_large(limit: int) -> Response:
    message = f"The request body is over {limit} bytes (--max-body-bytes)."
    return ready(Reply.message(413, {"message": message}))
