"""Operating endpoints under /_proxy/: health in every mode, the rest in proxy mode."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..http.jsonbody import JSON_WHITESPACE, BodyError, decode_object
from ..mock.prefer import PreferError, parse_scenario
from ..observe.stats import DECLARED, ERROR_KINDS
from ..proxy.service import ProxyService
from ..settings import defaults
from .deps import JournalDep, MockDep, ProxyDep, SettingsDep
from .permissions import changer, viewer
from .routes import bounded_body

router = APIRouter(prefix="/_proxy", tags=["operations"])
proxy_router = APIRouter(prefix="/_proxy", tags=["operations"])
mock_router = APIRouter(prefix="/_proxy", tags=["operations"])
PROBE_EVERY = 5.0  # seconds between upstream probes made by /_proxy/ready
BODY_BYTES = 64 * 1024  # the most read of a body here: each is a small JSON object


@router.get("/health")
async def health(settings: SettingsDep) -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok", "mode": settings.mode.value}


async def given_once(request: Request) -> None:
    """A dependency: each query parameter comes once (FastAPI would take the last)."""
    counts = Counter(name for name, _ in request.query_params.multi_items())
    if twice := sorted(name for name, count in counts.items() if count > 1):
        problem = {"type": "value_error", "msg": f"The {twice[0]} parameter may be given once."}
        raise RequestValidationError([{**problem, "loc": ("query", name)} for name in twice])


@router.get("/requests", dependencies=[Depends(viewer), Depends(given_once)])
async def requests(  # noqa: PLR0917 - the journal's filters, by name
    journal: JournalDep,
    path: str | None = None,
    status: int | None = None,
    cache: str | None = None,
    key: str | None = None,
    since: float | None = None,
    limit: Annotated[int | None, Query(ge=1, le=defaults.MAX_JOURNAL_SIZE)] = None,
) -> JSONResponse:
    """The journal, newest first: the last --journal-size API requests, phone numbers
    masked, keys as fingerprints. Filters: path, status, cache (hit, miss, stale,
    bypass, recorded, emulated), key (a fingerprint), since (Unix time), limit."""
    if journal is None:
        return JSONResponse({"message": "The journal is off (--journal-size 0)."}, status_code=404)
    found = journal.entries(
        path=path, status=status, cache=cache, key=key, since=since, limit=limit
    )
    return JSONResponse({"requests": found, "size": journal.size})


@router.delete("/requests", dependencies=[Depends(changer)])
async def clear_requests(journal: JournalDep) -> JSONResponse:
    """Clear the journal (needs `Authorization: Bearer <admin token>` where one is set)."""
    if journal is not None:
        journal.clear()
    return JSONResponse({"cleared": True})


@mock_router.put("/scenario", dependencies=[Depends(changer)])
async def set_scenario(request: Request, service: MockDep) -> JSONResponse:
    """Mock mode: a scenario for the requests that send no Prefer, and a rate limit, as
    `{"prefer": "code=429", "rate_limit": 5}` (either may be null); for tests that cannot
    make the app send headers. Needs the admin token where one is set."""
    body = await read_small_body(request)
    if isinstance(body, JSONResponse):
        return body
    shape = 'The body must be like {"prefer": "code=429", "rate_limit": 5} (null: none).'
    try:
        data = decode_object(body) if body.strip(JSON_WHITESPACE) else {}
    except BodyError as error:
        return JSONResponse({"message": f"{error} {shape}"}, status_code=422)
    prefer, rate_limit = data.get("prefer"), data.get("rate_limit")
    good_limit = rate_limit is None or (type(rate_limit) is int and rate_limit > 0)
    if not (prefer is None or isinstance(prefer, str)) or not good_limit:
        return JSONResponse({"message": shape}, status_code=422)
    try:
        if prefer is not None:
            parse_scenario(prefer, service.fixtures.names())
        service.set_scenario(prefer, rate_limit)
    except PreferError as error:
        return JSONResponse({"message": str(error)}, status_code=422)
    return JSONResponse({"prefer": prefer, "rate_limit": rate_limit})


@mock_router.delete("/scenario", dependencies=[Depends(changer)])
async def clear_scenario(service: MockDep) -> JSONResponse:
    """Mock mode: back to plain answers (and the rate limit the server started with)."""
    service.set_scenario(None, None)
    return JSONResponse({"prefer": None, "rate_limit": None})


async def read_small_body(request: Request) -> bytes | JSONResponse:
    """The request's body, or the 413 when it is over BODY_BYTES (not read further)."""
    body = await bounded_body(request, BODY_BYTES)
    if body is None:
        message = f"The body is over {BODY_BYTES} bytes; it should be a small JSON object."
        return JSONResponse({"message": message}, status_code=413)
    return body


@proxy_router.get("/stats")
async def stats(proxy: ProxyDep) -> dict[str, Any]:
    """Counters since start: cache results, collapsed waiters, upstream requests and errors."""
    return proxy.snapshot()


@proxy_router.get("/metrics", response_class=Response)
async def metrics(proxy: ProxyDep) -> Response:
    """The same counters in Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(proxy))
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


@proxy_router.get("/ready")
async def ready(request: Request, proxy: ProxyDep) -> JSONResponse:
    """Readiness: the upstream answered recently, or the cache can serve."""
    is_ready, why = proxy.ready()
    state = request.app.state
    if not is_ready and time.monotonic() - getattr(state, "probed_at", -PROBE_EVERY) >= PROBE_EVERY:
        state.probed_at = time.monotonic()
        await proxy.probe()
        is_ready, why = proxy.ready()
    answer: dict[str, object] = {"ready": is_ready, "reason": why}
    if proxy.shared is not None:
        answer["redis"] = {"up": proxy.shared.available, "kind": str(proxy.shared.kind)}
    return JSONResponse(answer, status_code=200 if is_ready else 503)


@proxy_router.delete("/cache")
async def purge(request: Request, proxy: ProxyDep, settings: SettingsDep) -> JSONResponse:
    """Purge the cache: all of it, or one API key's entries with `{"api_key": "..."}`.

    Needs `Authorization: Bearer <admin token>`; disabled without `--admin-token`.
    """
    if settings.admin_token is None:
        return JSONResponse(
            {"message": "Purging is disabled: start leads-proxy with --admin-token."},
            status_code=403,
        )
    await changer(request)
    body = await read_small_body(request)
    if isinstance(body, JSONResponse):
        return body
    api_key: object = None
    if body.strip(JSON_WHITESPACE):
        message = 'The body must be a JSON object like {"api_key": "..."}, or empty.'
        try:
            api_key = decode_object(body).get("api_key")
        except BodyError as error:
            message = f"{error} {message}"
        if not isinstance(api_key, str) or not api_key:
            return JSONResponse(
                {"message": message, "errors": {"api_key": [message]}}, status_code=422
            )
    purged, everywhere = await proxy.purge(api_key if isinstance(api_key, str) else None)
    answer: dict[str, object] = {"purged": purged, "scope": "api_key" if api_key else "all"}
    if proxy.shared is not None:
        # With Redis down, only this process's copies went; say so.
        answer["shared"] = everywhere
    return JSONResponse(answer)


class StatsCollector(Collector):
    """Reads the proxy's counters at scrape time; labels stay few and fixed."""

    def __init__(self, proxy: ProxyService) -> None:
        self.proxy = proxy

    def collect(self) -> Iterator[Metric]:
        snapshot = self.proxy.snapshot()
        responses = CounterMetricFamily(
            "leads_proxy_responses", "Leads listing answers by cache result", labels=["cache"]
        )
        for cell in DECLARED:
            if cell.cache is not None:
                responses.add_metric([cell.cache], snapshot[cell.name])
        yield responses
        errors = CounterMetricFamily(
            "leads_proxy_upstream_errors", "Upstream failures by kind", labels=["kind"]
        )
        for kind in ERROR_KINDS:
            errors.add_metric([kind], snapshot["upstream_errors"].get(kind, 0))
        yield errors
        for cell in DECLARED:
            if cell.cache is not None or cell.name not in snapshot:
                continue
            value = snapshot[cell.name]
            if not cell.gauge:
                yield CounterMetricFamily(f"leads_proxy_{cell.name}", cell.help, value=value)
            elif cell.name == "redis_up":
                yield GaugeMetricFamily("leads_proxy_redis_up", cell.help, value=value)
            else:
                yield GaugeMetricFamily(f"leads_proxy_cache_{cell.name}", cell.help, value=value)
        workers = snapshot["workers"]
        yield GaugeMetricFamily("leads_proxy_workers", "Worker processes", value=workers)
