"""Mock mode's simulated clock and post-call webhooks, under /_proxy/.

`GET /_proxy/clock` reads simulated time, `POST /_proxy/clock` with
`{"advance": seconds}` moves it on and plays every call due meanwhile before
answering (so the listing shows them at once), `DELETE /_proxy/clock` sets it
back to the real time. `GET /_proxy/webhooks` lists the webhooks sent. With
`--mock-calls off` each says so with a 409.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from ..fixtures.schema import ErrorBody
from ..http.jsonbody import JSON_WHITESPACE, BodyError, decode_object
from ..mock.calling import KEPT_DELIVERIES, MAX_ADVANCE
from ..mock.dialer import Dialer, deliveries
from ..mock.dialing import iso
from .admin import given_once, read_small_body
from .permissions import changer, viewer

router = APIRouter(prefix="/_proxy", tags=["operations"])
CALLS_OFF = "Simulated calling is off: start leads-proxy with --mock-calls on."
OFF: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": CALLS_OFF}}
CHANGE: dict[int | str, dict[str, Any]] = {
    **OFF,
    401: {"model": ErrorBody, "description": "The admin token is missing or wrong (where set)."},
}
ADVANCE_SHAPE = (
    f'The body must be like {{"advance": 3600}}: seconds to move the clock on, '
    f"from 0 to {MAX_ADVANCE:,}."
)


def _dialer(request: Request) -> Dialer | None:
    found: Dialer | None = getattr(request.app.state, "dialer", None)
    return found


async def _now(dialer: Dialer) -> JSONResponse:
    now = await dialer.state.run(dialer.calls.now)
    return JSONResponse({"now": iso(now), "speed": dialer.calls.plan.speed})


@router.get("/clock", dependencies=[Depends(viewer)], responses=OFF)
async def read_clock(request: Request) -> JSONResponse:
    """Mock mode with --mock-calls on: the simulated time (ISO-8601, UTC) and its speed."""
    dialer = _dialer(request)
    if dialer is None:
        return JSONResponse({"message": CALLS_OFF}, status_code=409)
    return await _now(dialer)


@router.post(
    "/clock",
    dependencies=[Depends(changer)],
    responses={
        **CHANGE,
        413: {"model": ErrorBody, "description": "Body too large."},
        422: {"model": ErrorBody, "description": ADVANCE_SHAPE},
    },
)
async def advance_clock(request: Request) -> JSONResponse:
    """Mock mode with --mock-calls on: move simulated time on by `{"advance": seconds}`,
    playing every call due meanwhile; answers the new time. Needs the admin token where
    one is set."""
    dialer = _dialer(request)
    if dialer is None:
        return JSONResponse({"message": CALLS_OFF}, status_code=409)
    body = await read_small_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        data: dict[str, Any] = decode_object(body) if body.strip(JSON_WHITESPACE) else {}
    except BodyError as error:
        return JSONResponse({"message": f"{error} {ADVANCE_SHAPE}"}, status_code=422)
    seconds = _advance(data)
    if seconds is None:
        return JSONResponse({"message": ADVANCE_SHAPE}, status_code=422)
    until = await dialer.state.write(lambda db: dialer.calls.advance(db, seconds))
    await dialer.catch_up(until)
    return await _now(dialer)


@router.delete("/clock", dependencies=[Depends(changer)], responses=CHANGE)
async def reset_clock(request: Request) -> JSONResponse:
    """Mock mode with --mock-calls on: simulated time back to the real time. Needs the
    admin token where one is set."""
    dialer = _dialer(request)
    if dialer is None:
        return JSONResponse({"message": CALLS_OFF}, status_code=409)
    await dialer.state.write(dialer.calls.reset)
    return await _now(dialer)


@router.get("/webhooks", dependencies=[Depends(viewer), Depends(given_once)], responses=OFF)
async def webhooks(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=KEPT_DELIVERIES)] = 100,
) -> JSONResponse:
    """Mock mode with --mock-calls on: the post-call webhooks, newest first: call_id,
    lead_id, url, call_status, attempts, delivered, given_up, last_status (the
    receiver's HTTP status), last_error, at (the last attempt)."""
    dialer = _dialer(request)
    if dialer is None:
        return JSONResponse({"message": CALLS_OFF}, status_code=409)
    found = await dialer.state.run(lambda db: deliveries(db, limit))
    return JSONResponse({"webhooks": found})


def _advance(data: dict[str, Any]) -> float | None:
    """The seconds of `{"advance": seconds}`, or None when that is not what it is."""
    seconds = data.get("advance")
    if set(data) != {"advance"} or isinstance(seconds, bool):
        return None
    if not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return None
    return float(seconds) if 0 <= seconds <= MAX_ADVANCE else None
