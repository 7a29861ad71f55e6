"""The leads listing routes: parse the request, ask the service, send its reply."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response, Security
from fastapi.security import HTTPBearer

from ..fixtures.schema import EXAMPLE_LEAD, ErrorBody, Lead, LeadsPage
from ..http.reply import Reply
from ..http.request import Incoming
from .asgi import SERVED
from .deps import ProxyDep, ServiceDep, SettingsDep

# Declared for the docs' "Authorize" button; the service decides what is let in.
bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <api key>`")

router = APIRouter(dependencies=[Security(bearer)], tags=["leads"])


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "A `Prefer` header with a bad value",
        401: 'No bearer token (`{"message": "Unauthenticated."}`)',
        404: "`Prefer: example=<name>` names no known example",
        414: "Query string over 4 KiB",
        422: "Bad filter or page values, in Laravel's validation shape",
    }.items()
}


def ready(reply: Reply) -> Response:
    response = Response(content=reply.body, status_code=reply.status)
    response.raw_headers = list(reply.headers)
    return response


def incoming(request: Request, body: bytes = b"") -> Incoming:
    return Incoming.from_scope(request.scope, body)


@router.get(
    "/api/user/leads",
    summary="List leads",
    operation_id="list_leads",
    response_model=list[Lead] | LeadsPage,
    responses={200: {"content": {"application/json": {"example": [EXAMPLE_LEAD]}}}, **ERRORS},
)
async def list_leads(request: Request, service: ServiceDep) -> Response:
    """List all leads for the authenticated user."""
    # The services read the raw query themselves (bad values get Laravel's 422);
    # the parameters are documented in edge.openapi.
    served = request.scope[SERVED] = await service.answer(incoming(request))
    if served.reply.delay:
        await asyncio.sleep(served.reply.delay)
    return ready(served.reply)


router.add_api_route(
    "/leads",
    list_leads,
    methods=["GET"],
    response_model=list[Lead] | LeadsPage,
    summary="List leads (short alias of /api/user/leads)",
    operation_id="list_leads_alias",
    responses=ERRORS,
)


# Proxy mode only: the rest of the API, forwarded as it is. Documented by
# edge.openapi_proxy, one operation per endpoint with its path written out: a path
# parameter cannot hold the `/` of `user/me`.
passthrough = APIRouter(tags=["forwarded"])


@passthrough.api_route(
    "/api/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def forward(request: Request, proxy: ProxyDep, settings: SettingsDep, rest: str) -> Response:
    """Forwarded as it is: method, query, headers (less hop-by-hop ones) and body."""
    body = await bounded_body(request, settings.max_body_bytes)
    if body is None:
        message = f"The request body is over {settings.max_body_bytes} bytes, the most passed on."
        return ready(Reply.message(413, {"message": message}))
    served = request.scope[SERVED] = await proxy.forward(incoming(request, body))
    return ready(served.reply)


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, read no further than `limit` bytes; None when it is longer."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
