"""The live status page at `/_proxy/`, and the JSON it polls (`/_proxy/status`).

One page, served by leads-proxy itself: plain HTML, CSS and a little
JavaScript that asks `/_proxy/status` every second and draws its charts as
SVG; no CDN, no build step. The JSON is also for scripts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ..mock.dialer import Dialer, deliveries
from ..mock.dialing import iso
from ..proxy.service import ProxyService
from .permissions import viewer

router = APIRouter(prefix="/_proxy", tags=["operations"])
PAGE = (Path(__file__).resolve().parent / "status.html").read_text(encoding="utf-8")
JOURNAL_ROWS = 50
WEBHOOK_ROWS = 20


@router.get("", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    """The status page (`/_proxy/`)."""
    return HTMLResponse(PAGE, headers={"cache-control": "no-store"})


@router.get("/status", dependencies=[Depends(viewer)])
async def status(request: Request) -> JSONResponse:
    """What the status page shows: the server, its counters, the last 15 minutes second
    by second, keys cooling down, the cache against its bounds, the latest requests, and
    in mock mode with --mock-calls on the simulated clock and the latest webhooks."""
    state = request.app.state
    settings = state.settings
    service = state.service
    answer: dict[str, Any] = {
        "mode": settings.mode.value,
        "version": request.app.version,
        "uptime": round(time.time() - state.started, 1),
        "workers": settings.workers,
        "history": state.history.last(),
        "requests": state.journal.entries(limit=JOURNAL_ROWS) if state.journal else [],
        "calls": await _calls(getattr(state, "dialer", None)),
    }
    if isinstance(service, ProxyService):
        counters = service.snapshot()
        answer |= {
            "counters": counters,
            "workers": counters["workers"],
            "redis": counters.get("redis", "not used"),
            "redis_kind": counters.get("redis_kind"),
            "cooling": service.cooling(),
            "cache": {
                "entries": counters["entries"],
                "bytes": counters["bytes"],
                "max_entries": settings.max_entries,
                "max_bytes": settings.max_bytes,
            },
        }
    else:
        answer |= {"redis": "not used", "cooling": [], "cache": None}
    return JSONResponse(answer, headers={"cache-control": "no-store"})


async def _calls(dialer: Dialer | None) -> dict[str, Any] | None:
    """The simulated clock and the latest webhooks, or None with calling off."""
    if dialer is None:
        return None
    calls = dialer.calls
    now, webhooks = await dialer.state.run(lambda db: (calls.now(db), deliveries(db, WEBHOOK_ROWS)))
    return {"now": iso(now), "speed": calls.plan.speed, "webhooks": webhooks}
