"""The /_proxy/ operating routes of `create_app(Settings(...))`, driven in process:
mock mode's scenario, the request journal, and proxy mode's purge, stats and
readiness; the admin token wherever one is set."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from leads_proxy.edge.factory import create_app
from leads_proxy.edge.modes import Outside
from leads_proxy.http.keys import fingerprint_of
from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head
from leads_proxy.http.service import Served
from leads_proxy.observe.journal import Journal
from leads_proxy.settings.declarations import Settings
from leads_proxy.settings.values import Mode

AUTH = {"Authorization": "Bearer 1|admin-test-key"}
TOKEN = "admin-token-for-tests-01"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
Client = httpx.AsyncClient
Steps = Callable[[Client], Awaitable[Any]]


def drive(app: FastAPI, steps: Steps) -> Any:
    async def run() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with Client(transport=transport, base_url="http://leads.test") as client:
            return await steps(client)

    return asyncio.run(run())


def one(app: FastAPI, method: str, path: str, **options: Any) -> httpx.Response:
    async def steps(client: Client) -> httpx.Response:
        return await client.request(method, path, **options)

    response: httpx.Response = drive(app, steps)
    return response


def mock(**settings: Any) -> FastAPI:
    return create_app(Settings(**settings))


def proxy(handler: Callable[[httpx.Request], httpx.Response], **settings: Any) -> FastAPI:
    given = Settings(mode=Mode.PROXY, upstream_url="http://upstream.test/api", **settings)
    return create_app(given, outside=Outside(transport=httpx.MockTransport(handler)))


def leads(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=[{"id": 1}])


@pytest.mark.parametrize(("mode", "app"), [("mock", mock), ("proxy", lambda: proxy(leads))])
def test_health__in_every_mode(mode: str, app: Callable[[], FastAPI]) -> None:
    answer = one(app(), "GET", "/_proxy/health")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok", "mode": mode})


# --- mock mode's scenario -----------------------------------------------------------


def test_scenario__a_prefer_for_requests_without_one_until_cleared() -> None:
    async def steps(client: Client) -> list[Any]:
        statuses: list[Any] = []
        put = await client.put("/_proxy/scenario", json={"prefer": "code=429"})
        statuses.append(put.json())
        statuses.append((await client.get("/api/user/leads", headers=AUTH)).status_code)
        own = {**AUTH, "Prefer": "example=empty"}
        statuses.append((await client.get("/api/user/leads", headers=own)).json())
        cleared = await client.delete("/_proxy/scenario")
        statuses.append(cleared.json())
        statuses.append((await client.get("/api/user/leads", headers=AUTH)).status_code)
        return statuses

    put, during, own_prefer, cleared, after = drive(mock(), steps)
    assert put == {"prefer": "code=429", "rate_limit": None}
    assert during == 429
    assert own_prefer == []  # a request's own Prefer wins over the scenario
    assert cleared == {"prefer": None, "rate_limit": None}
    assert after == 200


def test_scenario__a_rate_limit_until_cleared() -> None:
    async def steps(client: Client) -> tuple[list[int], list[int]]:
        await client.put("/_proxy/scenario", json={"rate_limit": 2})
        limited = [(await client.get("/api/user/leads", headers=AUTH)).status_code for _ in "abc"]
        await client.delete("/_proxy/scenario")
        free = [(await client.get("/api/user/leads", headers=AUTH)).status_code for _ in "abc"]
        return limited, free

    limited, free = drive(mock(), steps)
    assert limited == [200, 200, 429]
    assert free == [200, 200, 200]


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", b'{"prefer": null, "rate_limit": null}'],
    ids=["empty", "empty-object", "nulls"],
)
def test_scenario__an_empty_body_sets_nothing(body: bytes) -> None:
    answer = one(mock(), "PUT", "/_proxy/scenario", content=body)
    assert (answer.status_code, answer.json()) == (200, {"prefer": None, "rate_limit": None})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "The body must be like"),
        (b"[1, 2]", "The body must be like"),
        (b'"code=429"', "The body must be like"),
        (b"[" * 60_000, "nested too deeply"),  # within the 64 KiB read
        (b"\xff\xfe", "not UTF-8"),
        (rb'{"prefer": "\ud800"}', "lone surrogate"),
        (b'{"prefer": 429}', "The body must be like"),
        (b'{"rate_limit": 0}', "The body must be like"),
        (b'{"rate_limit": -1}', "The body must be like"),
        (b'{"rate_limit": true}', "The body must be like"),
        (b'{"rate_limit": "5"}', "The body must be like"),
        (b'{"rate_limit": 2.5}', "The body must be like"),
        (b'{"prefer": "code=418"}', "valid codes: 200, 401"),
        (b'{"prefer": "delay=soon"}', "Prefer: delay must be a whole number"),
    ],
    ids=[
        "not-json", "a-list", "a-string", "nested-too-deep", "not-utf8", "lone-surrogate",
        "prefer-not-a-string",
        "rate-zero", "rate-negative", "rate-a-bool", "rate-a-string", "rate-a-float",
        "prefer-bad-code", "prefer-bad-delay",
    ],
)  # fmt: skip
def test_scenario__a_bad_body_is_a_422_that_changes_nothing(body: bytes, says: str) -> None:
    async def steps(client: Client) -> tuple[httpx.Response, int]:
        refused = await client.put("/_proxy/scenario", content=body)
        after = await client.get("/api/user/leads", headers=AUTH)
        return refused, after.status_code

    refused, after = drive(mock(), steps)
    assert refused.status_code == 422
    assert says in refused.json()["message"]
    assert after == 200


def test_scenario__only_in_mock_mode() -> None:
    app = proxy(leads)
    answer = one(app, "PUT", "/_proxy/scenario", json={"prefer": "code=429"})
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/_proxy/scenario", b'{"prefer": "code=500"}'),
        ("DELETE", "/_proxy/scenario", b""),
        ("DELETE", "/_proxy/requests", b""),
    ],
    ids=["put-scenario", "clear-scenario", "clear-journal"],
)
@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, False),
        ({"Authorization": "Bearer not-the-admin-token"}, False),
        ({"Authorization": f"Basic {TOKEN}"}, False),
        ({"Authorization": f"Bearer {TOKEN}x"}, False),
        (AUTH, False),
        (ADMIN, True),
        ({"Authorization": f"bearer   {TOKEN}  "}, True),
    ],
    ids=["none", "wrong", "basic", "longer", "an-api-key", "admin", "spelled-loosely"],
)
def test_admin_token__required_where_set(
    method: str, path: str, body: bytes, headers: dict[str, str], allowed: bool
) -> None:
    answer = one(mock(admin_token=TOKEN), method, path, content=body, headers=headers)
    if allowed:
        assert answer.status_code == 200
    else:
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthenticated."})


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/_proxy/scenario"), ("DELETE", "/_proxy/scenario"), ("DELETE", "/_proxy/requests")],
    ids=["put-scenario", "clear-scenario", "clear-journal"],
)
def test_admin_token__not_asked_for_where_none_is_set(method: str, path: str) -> None:
    assert one(mock(), method, path).status_code == 200


def test_admin_token__a_refused_scenario_changes_nothing() -> None:
    async def steps(client: Client) -> int:
        await client.put("/_proxy/scenario", json={"prefer": "code=500"})
        return (await client.get("/api/user/leads", headers=AUTH)).status_code

    assert drive(mock(admin_token=TOKEN), steps) == 200


# --- the journal ---------------------------------------------------------------------


def noted(app: FastAPI) -> Journal:
    """The app's journal with three requests in it (noted as the ASGI layer notes them)."""
    journal: Journal = app.state.journal
    now = time.perf_counter()
    key = (b"authorization", AUTH["Authorization"].encode())
    emulated = Served.of_mock(Reply(200, ((b"x-mock-source", b"emulated"),)))
    journal.note(Head.read("GET", "/api/user/leads", b"", [key]), 200, emulated, now, 0.01)
    journal.note(Head.read("GET", "/leads", b"", []), 401, emulated, now + 1, 0.01)
    listing = Head.read("GET", "/api/user/leads", b"status=new", [key])
    journal.note(listing, 200, emulated, now + 2, 0.01)
    return journal


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("", [200, 401, 200]),
        ("?status=401", [401]),
        ("?path=/leads", [401]),
        ("?limit=1", [200]),
        ("?key={key}", [200, 200]),  # the key's fingerprint, as shown
        ("?cache=emulated", [200, 401, 200]),
        ("?cache=hit", []),
    ],
    ids=["all-newest-first", "status", "path", "limit", "key", "source", "cache"],
)
def test_requests__the_journal_filtered(query: str, found: list[int]) -> None:
    app = mock()
    noted(app)
    shown = fingerprint_of(AUTH["Authorization"].encode())
    answer = one(app, "GET", "/_proxy/requests" + query.format(key=shown))
    assert answer.status_code == 200
    assert [entry["status"] for entry in answer.json()["requests"]] == found
    assert answer.json()["size"] == 1000
    assert "admin-test-key" not in answer.text


def test_requests__a_limit_under_one_is_a_422() -> None:
    assert one(mock(), "GET", "/_proxy/requests?limit=0").status_code == 422


def test_requests__cleared_with_the_admin_token() -> None:
    app = mock(admin_token=TOKEN)
    noted(app)

    async def steps(client: Client) -> tuple[int, int, int, list[Any]]:
        refused = await client.delete("/_proxy/requests")
        kept = len((await client.get("/_proxy/requests")).json()["requests"])
        cleared = await client.delete("/_proxy/requests", headers=ADMIN)
        left = (await client.get("/_proxy/requests")).json()["requests"]
        return refused.status_code, kept, cleared.status_code, left

    assert drive(app, steps) == (401, 3, 200, [])


def test_requests__off_with_journal_size_0() -> None:
    app = mock(journal_size=0)
    assert app.state.journal is None
    answer = one(app, "GET", "/_proxy/requests")
    assert answer.status_code == 404
    assert "--journal-size 0" in answer.json()["message"]
    assert one(app, "DELETE", "/_proxy/requests").json() == {"cleared": True}


# --- proxy mode -----------------------------------------------------------------------


def test_purge__off_without_an_admin_token() -> None:
    answer = one(proxy(leads), "DELETE", "/_proxy/cache", headers=ADMIN)
    assert answer.status_code == 403
    assert "--admin-token" in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "status", "scope"),
    [
        (b"", 200, "all"),
        (b"  ", 200, "all"),
        (b'{"api_key": "1|admin-test-key"}', 200, "api_key"),
        (b'{"api_key": ""}', 422, None),
        (b'{"api_key": 5}', 422, None),
        (b"[]", 422, None),
        (b"not json", 422, None),
        (rb'{"api_key": "\ud800"}', 422, None),
        (b"\x0c", 422, None),
    ],
    ids=[
        "empty",
        "blank",
        "one-key",
        "empty-key",
        "key-not-a-string",
        "a-list",
        "not-json",
        "lone-surrogate",
        "form-feed",
    ],
)
def test_purge__all_or_one_keys_entries(body: bytes, status: int, scope: str | None) -> None:
    app = proxy(leads, admin_token=TOKEN)

    async def steps(client: Client) -> tuple[httpx.Response, str]:
        await client.get("/api/user/leads", headers=AUTH)
        purged = await client.request("DELETE", "/_proxy/cache", content=body, headers=ADMIN)
        again = await client.get("/api/user/leads", headers=AUTH)
        return purged, again.headers["x-cache"]

    purged, after = drive(app, steps)
    assert purged.status_code == status
    if scope is None:
        assert "errors" in purged.json()
        assert after == "HIT"  # nothing was purged
    else:
        assert purged.json() == {"purged": 1, "scope": scope}
        assert after == "MISS"


@pytest.mark.parametrize(
    "headers",
    [{}, AUTH, {"Authorization": "Bearer nope-nope-nope"}],
    ids=["none", "an-api-key", "wrong"],
)
def test_purge__needs_the_admin_token(headers: dict[str, str]) -> None:
    answer = one(proxy(leads, admin_token=TOKEN), "DELETE", "/_proxy/cache", headers=headers)
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthenticated."})


def test_stats_and_metrics__count_what_the_routes_answered() -> None:
    async def steps(client: Client) -> tuple[dict[str, Any], str]:
        for _ in range(3):
            await client.get("/api/user/leads", headers=AUTH)
        stats = (await client.get("/_proxy/stats")).json()
        metrics = (await client.get("/_proxy/metrics")).text
        return stats, metrics

    stats, metrics = drive(proxy(leads), steps)
    # The answers are counted by the ASGI layer's observer, which create_app alone lacks;
    # the upstream requests are counted where they are made.
    assert stats["upstream_requests"] == 1
    assert stats["entries"] == 1
    assert "redis_up" not in stats
    assert "leads_proxy_upstream_requests_total 1.0" in metrics
    assert 'leads_proxy_responses_total{cache="hit"} 0.0' in metrics


def test_ready__probes_the_upstream_when_it_has_not_answered() -> None:
    probes: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        probes.append(request.url.path)
        return httpx.Response(401, json={"message": "Unauthenticated."})

    answer = one(proxy(handler), "GET", "/_proxy/ready")
    assert (answer.status_code, answer.json()["ready"]) == (200, True)
    assert probes == ["/api/user/leads"]


def test_ready__not_ready_while_the_upstream_is_unreachable_and_nothing_is_cached() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    answer = one(proxy(handler), "GET", "/_proxy/ready")
    assert answer.status_code == 503
    assert answer.json() == {"ready": False, "reason": "no upstream answer yet and nothing cached"}


@pytest.mark.parametrize("query", ["?status=200&status=401", "?since=1&since=2&limit=1"])
def test_requests__a_filter_given_twice_is_a_422(query: str) -> None:
    answer = one(mock(), "GET", f"/_proxy/requests{query}")
    assert answer.status_code == 422
    name = query[1:].split("=", maxsplit=1)[0]
    assert answer.json()["message"] == f"The {name} parameter may be given once."
    assert name in answer.json()["errors"]


def test_requests__a_limit_past_any_journal_is_a_422() -> None:
    answer = one(mock(), "GET", "/_proxy/requests?limit=117551843364358581452275712")
    assert answer.status_code == 422
    assert one(mock(), "GET", "/_proxy/requests?limit=1000000").status_code == 200
