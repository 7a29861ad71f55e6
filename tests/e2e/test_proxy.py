"""Proxy mode through a real leads-proxy process and a real fake upstream."""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads_proxy.http.canonical import canonical_query
from tests.fake_upstream import FakeUpstream, key_tag
from tests.support import BUNDLED, Launch, Server, clean_env, eventually, start_server

KEY_A, KEY_B = "1|alpha-secret-key-0001", "2|bravo-secret-key-0002"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}

StartProxy = Callable[..., Server]


@pytest.fixture
def start_proxy(launch: Launch, upstream: FakeUpstream) -> StartProxy:
    """Launch proxy mode in front of the fake upstream; env vars as keywords."""

    def start(*args: str, **env: str) -> Server:
        return launch(
            "--mode", "proxy", "--upstream-url", upstream.url, *args, env=clean_env(**env)
        )

    return start


def leads(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def version(response: httpx.Response) -> int:
    return int(leads(response)[0]["variables"]["version"])


def owner(response: httpx.Response) -> str:
    return str(leads(response)[0]["variables"]["key_tag"])


# --- hits and misses --------------------------------------------------------------


def test_cache__miss_then_hit_costs_one_upstream_request(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    first = proxy.client.get("/api/user/leads", headers={**A, "Accept": "application/json"})
    second = proxy.client.get("/leads", headers=A)  # the alias shares the entry
    assert first.headers["x-cache"] == "MISS"
    assert "fwd=miss" in first.headers["cache-status"]
    assert second.headers["x-cache"] == "HIT"
    assert second.headers["cache-status"].startswith("leads-proxy; hit; ttl=")
    age = int(second.headers["age"])
    ttl = int(second.headers["cache-status"].rsplit("ttl=", 1)[1])
    assert age in {0, 1}  # asked right after the fill
    assert age + ttl == 30  # Age counts up as ttl counts down from --ttl
    assert second.content == first.content
    assert upstream.count(A["Authorization"]) == 1
    seen = upstream.seen[0]
    assert seen.headers["authorization"] == A["Authorization"]
    assert seen.headers["accept"] == "application/json"


def test_cache__same_meaning_same_entry_other_query_other_entry(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    proxy.client.get("/leads?status=completed&per_page=5", headers=A)
    same = proxy.client.get("/leads?per_page=5&status=x&status=completed", headers=A)
    other = proxy.client.get("/leads?status=created", headers=A)
    empty = proxy.client.get("/leads?status=created&page=", headers=A)
    assert same.headers["x-cache"] == "HIT"
    assert other.headers["x-cache"] == "MISS"
    assert empty.headers["x-cache"] == "MISS"  # an empty page= is sent on, so its own entry
    assert upstream.count() == 3
    # The canonical query is what is forwarded: names sorted, the last value of each.
    assert [seen.query for seen in upstream.seen] == [
        "per_page=5&status=completed",
        "status=created",
        "page=&status=created",
    ]


def test_cache__if_none_match_gets_304_from_cache(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    etag = proxy.client.get("/leads", headers=A).headers["etag"]
    response = proxy.client.get("/leads", headers={**A, "If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["x-cache"] == "HIT"
    assert upstream.count() == 1


def test_cache__a_body_over_max_entry_bytes_is_passed_on_not_cached(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--max-entry-bytes", "100")
    for _ in range(2):
        response = proxy.client.get("/leads", headers=A)
        assert response.headers["x-cache"] == "MISS"
        assert "stored" not in response.headers["cache-status"]
    assert upstream.count() == 2


# --- keys are never mixed -----------------------------------------------------------


def test_keys__two_keys_get_their_own_answers(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    for _ in range(3):
        assert owner(proxy.client.get("/leads", headers=A)) == key_tag(A["Authorization"])
        assert owner(proxy.client.get("/leads", headers=B)) == key_tag(B["Authorization"])
    assert upstream.count(A["Authorization"]) == upstream.count(B["Authorization"]) == 1


@pytest.fixture(scope="module")
def shared_upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def shared_proxy(
    tmp_path_factory: pytest.TempPathFactory, shared_upstream: FakeUpstream, http_server: str
) -> Iterator[Server]:
    proxy = ("--mode", "proxy", "--upstream-url", shared_upstream.url)
    server = start_server(tmp_path_factory.mktemp("proxy"), *proxy, http_server=http_server)
    yield server
    server.stop()


TOKENS = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","), min_size=1
).map(lambda text: text.strip() or "x")
QUERIES = st.lists(
    st.tuples(st.sampled_from(["status", "campaign_id", "page"]), st.sampled_from(["1", "2", ""])),
    max_size=3,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(st.tuples(TOKENS, QUERIES), min_size=1, max_size=6))
def test_keys__no_answer_ever_reaches_another_key(
    shared_proxy: Server, requests: list[tuple[str, list[tuple[str, str]]]]
) -> None:
    for token, query in requests + requests:  # twice: the second round is served from cache
        authorization = f"Bearer {token}"
        params: list[tuple[str, str | int | float | bool | None]] = list(query)
        response = shared_proxy.client.get(
            "/leads", params=params, headers={"Authorization": authorization}
        )
        assert owner(response) == key_tag(authorization)


RAW_PARTS = st.sampled_from(
    ["status", "status[]", "ids[]", "page", "", "%1F", "%zz", "%41", "A", "+", "%20", "%FF",
     "%EF%BF%BD", "completed", "%2B1", "a.b", "a_b"]
)  # fmt: skip
RAW_QUERIES = st.lists(
    st.tuples(RAW_PARTS, st.one_of(st.none(), RAW_PARTS)), min_size=0, max_size=4
).map(lambda pairs: "&".join(n if v is None else f"{n}={v}" for n, v in pairs))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(queries=st.lists(RAW_QUERIES, min_size=1, max_size=5))
def test_keys__an_entry_is_shared_only_by_queries_forwarded_byte_for_byte_alike(
    shared_proxy: Server, queries: list[str]
) -> None:
    """The answer a client gets is the upstream's answer to the very query forwarded for it."""
    for raw in queries + queries:  # twice: the second round is served from cache
        response = shared_proxy.client.get("/leads?" + raw if raw else "/leads", headers=A)
        sent = response.request.url.query.decode("ascii")
        echoed = leads(response)[0]["variables"]["query"]
        assert echoed == canonical_query(sent), (raw, response.headers["x-cache"])


# --- single flight ----------------------------------------------------------------------


def test_single_flight__200_concurrent_misses_make_one_upstream_request(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=proxy.url, limits=limits, timeout=30) as client:
            return await asyncio.gather(*(client.get("/leads", headers=A) for _ in range(200)))

    with upstream.behaving(delay=0.5):
        responses = asyncio.run(burst())
    assert upstream.count() == 1
    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1
    stats = proxy.client.get("/_proxy/stats").json()
    assert stats["upstream_requests"] == 1
    assert stats["collapsed_waiters"] >= 150  # the rest arrived while the first was out


def test_single_flight__a_client_that_leaves_does_not_cancel_the_fill(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    with upstream.behaving(delay=0.5):
        with pytest.raises(httpx.ReadTimeout):
            proxy.client.get("/leads", headers=A, timeout=0.1)
        eventually(lambda: proxy.client.get("/_proxy/stats").json()["entries"] == 1)
    assert proxy.client.get("/leads", headers=A).headers["x-cache"] == "HIT"
    assert upstream.count() == 1


# --- stale answers ----------------------------------------------------------------------


# The failures a real socket brings. What each kind of failure makes of the
# last good copy, and every window around it, is pinned in process with a fake
# clock (tests/inprocess/test_proxy_rules.py); --ttl 0 makes the copy stale at
# once, so nothing here waits for it.
FAILURES = [
    pytest.param({"mode": "reset"}, id="reset"),
    pytest.param({"mode": "hang"}, id="timeout"),
    pytest.param({"refuse": True}, id="refused"),
]


def misbehave(upstream: FakeUpstream, how: dict[str, Any]) -> Any:
    if how.get("refuse"):
        upstream.refuse()
        return _Nothing()
    return upstream.behaving(**how)


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


@pytest.mark.parametrize("how", FAILURES)
def test_stale_if_error__serves_the_last_good_copy(
    start_proxy: StartProxy, upstream: FakeUpstream, how: dict[str, Any]
) -> None:
    proxy = start_proxy("--ttl", "0", "--stale-while-revalidate", "0", "--upstream-timeout", "0.5")
    good = proxy.client.get("/leads", headers=A)
    with misbehave(upstream, how):
        stale = proxy.client.get("/leads", headers=A)
    assert stale.status_code == 200
    assert stale.content == good.content
    assert stale.headers["x-cache"] == "STALE"
    assert "fwd=stale" in stale.headers["cache-status"]
    assert "detail=stale-if-error" in stale.headers["cache-status"]


@pytest.mark.parametrize(
    ("how", "status", "says"),
    [
        pytest.param({"mode": "status", "status": 503}, 502, "answered 503", id="503"),
        pytest.param({"mode": "reset"}, 502, "broke the connection", id="reset"),
        pytest.param({"mode": "garbage"}, 502, "not JSON", id="garbage"),
        pytest.param({"mode": "hang"}, 504, "did not answer within 0.5 s", id="timeout"),
        pytest.param({"refuse": True}, 502, "refused the connection", id="refused"),
    ],
)
def test_stale_if_error__without_a_copy_says_what_happened(
    start_proxy: StartProxy, upstream: FakeUpstream, how: dict[str, Any], status: int, says: str
) -> None:
    proxy = start_proxy("--upstream-timeout", "0.5")
    with misbehave(upstream, how):
        response = proxy.client.get("/leads", headers=A)
    assert response.status_code == status
    assert says in response.json()["message"]
    assert "no cached copy" in response.json()["message"]
    assert response.headers["x-cache"] == "MISS"
    assert response.headers["cache-status"].startswith("leads-proxy; fwd=miss; detail=")


def test_stale_if_error__a_failed_fetch_is_not_cached(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    with upstream.behaving(mode="status", status=500):
        assert proxy.client.get("/leads", headers=A).status_code == 502
    response = proxy.client.get("/leads", headers=A)
    assert response.headers["x-cache"] == "MISS"
    assert response.status_code == 200


def test_fallback__fixtures_answer_when_nothing_else_can(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--fallback", "fixtures")
    upstream.refuse()
    response = proxy.client.get("/leads", headers=A)
    assert response.status_code == 200
    expected = json.loads((BUNDLED / "leads" / "default.json").read_text())
    assert response.json() == expected
    assert "detail=fallback-fixtures" in response.headers["cache-status"]


# --- the upstream's pace, the cache's bounds ------------------------------------------------


def test_pacing__upstream_max_rps_spaces_every_upstream_request(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--upstream-max-rps", "10")

    async def misses() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=proxy.url, timeout=30) as client:
            queries = [f"/leads?page={n}" for n in range(8)]
            return await asyncio.gather(*(client.get(q, headers=A) for q in queries))

    assert {response.status_code for response in asyncio.run(misses())} == {200}
    times = sorted(seen.at for seen in upstream.seen)
    assert len(times) == 8
    # 10/s: seven gaps of 0.1 s (unpaced, all eight arrive within a few ms). One
    # gap may look shorter when the first request also had to open a connection.
    assert times[-1] - times[0] >= 0.6
    assert statistics.median(b - a for a, b in itertools.pairwise(times)) >= 0.09


def test_bounds__max_entries_evicts_the_least_recently_used(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy("--max-entries", "2")
    for query in ["?page=1", "?page=2", "?page=1", "?page=3"]:
        proxy.client.get(f"/leads{query}", headers=A)
    assert proxy.client.get("/_proxy/stats").json()["entries"] == 2
    assert proxy.client.get("/leads?page=1", headers=A).headers["x-cache"] == "HIT"
    assert proxy.client.get("/leads?page=2", headers=A).headers["x-cache"] == "MISS"


# --- pass-through ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_pass_through__client_errors_pass_unchanged_and_uncached(
    start_proxy: StartProxy, upstream: FakeUpstream, status: int
) -> None:
    proxy = start_proxy()
    with upstream.behaving(mode="status", status=status):
        for _ in range(2):
            response = proxy.client.get("/leads", headers=A)
            assert response.status_code == status
            assert response.json() == {"message": f"status {status}"}
    assert upstream.count() == 2


def test_pass_through__a_request_without_a_key_is_forwarded_never_cached(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    for _ in range(2):
        response = proxy.client.get("/leads")
        assert response.headers["x-cache"] == "BYPASS"
    assert upstream.count() == 2
    assert proxy.client.get("/_proxy/stats").json()["entries"] == 0


def test_pass_through__other_paths_any_method_body_and_status(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    with upstream.behaving(other_status=201):
        response = proxy.client.post(
            "/api/user/campaigns/update-status?x=1",
            headers={**A, "Connection": "keep-alive, X-Private", "X-Private": "hop", "X-Kept": "1"},
            json={"status": "paused"},
        )
    assert response.status_code == 201
    echo = response.json()
    assert (echo["method"], echo["path"], echo["query"]) == (
        "POST",
        "/api/user/campaigns/update-status",
        "x=1",
    )
    assert json.loads(echo["body"]) == {"status": "paused"}
    assert echo["headers"]["authorization"] == A["Authorization"]
    assert echo["headers"]["x-kept"] == "1"
    assert "x-private" not in echo["headers"]  # named by Connection: hop-by-hop
    assert response.headers["x-cache"] == "BYPASS"
    assert proxy.client.delete("/api/user/leads/7", headers=A).json()["method"] == "DELETE"
    assert proxy.client.get("/api/user/me", headers=A).json()["path"] == "/api/user/me"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/user/lead"), ("PUT", "/api/user/leads/7"), ("DELETE", "/api/user/leads/7")],
)
def test_invalidation__a_write_to_a_lead_drops_that_keys_listings(
    start_proxy: StartProxy, upstream: FakeUpstream, method: str, path: str
) -> None:
    proxy = start_proxy()
    for headers in (A, B):
        proxy.client.get("/leads", headers=headers)
        proxy.client.get("/leads?status=created", headers=headers)
    assert proxy.client.request(method, path, headers=A, json={}).status_code == 200
    assert proxy.client.get("/leads", headers=A).headers["x-cache"] == "MISS"
    assert proxy.client.get("/leads?status=created", headers=A).headers["x-cache"] == "MISS"
    assert proxy.client.get("/leads", headers=B).headers["x-cache"] == "HIT"


def test_invalidation__a_failed_write_keeps_the_cache(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    proxy.client.get("/leads", headers=A)
    with upstream.behaving(other_status=422):
        assert proxy.client.post("/api/user/lead", headers=A, json={}).status_code == 422
    assert proxy.client.get("/leads", headers=A).headers["x-cache"] == "HIT"


# --- client cache directives ----------------------------------------------------------------


def test_no_cache__forces_one_collapsed_refetch(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    proxy.client.get("/leads", headers=A)
    refetched = proxy.client.get("/leads", headers={**A, "Cache-Control": "no-cache"})
    assert refetched.headers["x-cache"] == "MISS"
    assert "fwd=request" in refetched.headers["cache-status"]
    assert version(refetched) == 2
    assert version(proxy.client.get("/leads", headers=A)) == 2


def test_only_if_cached__504_when_nothing_is_cached(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    only = {**A, "Cache-Control": "only-if-cached"}
    nothing = proxy.client.get("/leads", headers=only)
    assert nothing.status_code == 504
    assert nothing.headers["cache-status"] == "leads-proxy; detail=only-if-cached"
    assert upstream.count() == 0
    proxy.client.get("/leads", headers=A)
    assert proxy.client.get("/leads", headers=only).headers["x-cache"] == "HIT"


# --- operating it ---------------------------------------------------------------------------


def test_purge__disabled_without_an_admin_token(start_proxy: StartProxy) -> None:
    proxy = start_proxy()
    response = proxy.client.delete("/_proxy/cache", headers={"Authorization": "Bearer x"})
    assert response.status_code == 403
    assert "--admin-token" in response.json()["message"]


def test_purge__all_or_one_key_with_the_admin_token(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy(LEADS_PROXY_ADMIN_TOKEN="s3cret-admin")
    admin = {"Authorization": "Bearer s3cret-admin"}
    for headers in (A, B):
        proxy.client.get("/leads", headers=headers)
    assert proxy.client.delete("/_proxy/cache").status_code == 401
    assert proxy.client.delete("/_proxy/cache", headers=A).status_code == 401
    bad = proxy.client.request("DELETE", "/_proxy/cache", headers=admin, content=b"[1]")
    assert bad.status_code == 422
    one = proxy.client.request("DELETE", "/_proxy/cache", headers=admin, json={"api_key": KEY_A})
    assert one.json() == {"purged": 1, "scope": "api_key"}
    assert proxy.client.get("/leads", headers=A).headers["x-cache"] == "MISS"
    assert proxy.client.get("/leads", headers=B).headers["x-cache"] == "HIT"
    assert proxy.client.delete("/_proxy/cache", headers=admin).json() == {
        "purged": 2,
        "scope": "all",
    }


def test_stats_and_metrics__count_what_happened(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    answers = [proxy.client.get("/leads", headers=A), proxy.client.get("/leads", headers=A)]
    with upstream.behaving(mode="status", status=500):
        answers.append(proxy.client.get("/leads?status=x", headers=A))
    answers.append(proxy.client.get("/leads"))  # no key: bypass
    labels = [answer.headers["x-cache"] for answer in answers]
    assert labels == ["MISS", "HIT", "MISS", "BYPASS"]
    assert answers[2].status_code == 502
    stats = proxy.client.get("/_proxy/stats").json()
    # Every answer counted once, under the label its X-Cache header shows.
    assert stats["requests"] == 4
    assert (stats["hits"], stats["misses"], stats["bypassed"]) == (1, 2, 1)
    assert stats["upstream_requests"] == 3
    assert stats["upstream_errors"] == {"status_5xx": 1}
    assert stats["entries"] == 1
    assert stats["bytes"] > 0
    metrics = proxy.client.get("/_proxy/metrics").text
    assert 'leads_proxy_responses_total{cache="hit"} 1.0' in metrics
    assert 'leads_proxy_upstream_errors_total{kind="status_5xx"} 1.0' in metrics
    assert "leads_proxy_cache_entries 1.0" in metrics


def test_ready__follows_the_upstream_and_the_cache(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy()
    assert proxy.client.get("/_proxy/ready").status_code == 200  # probed: the upstream answers
    upstream.refuse()
    down = start_proxy()
    response = down.client.get("/_proxy/ready")
    assert response.status_code == 503
    assert response.json()["ready"] is False


def test_logs__name_keys_by_fingerprint_and_never_leak_them(
    start_proxy: StartProxy, upstream: FakeUpstream
) -> None:
    proxy = start_proxy(LEADS_PROXY_ADMIN_TOKEN="admin-token-value")
    proxy.client.get("/leads?status=x", headers=A)
    proxy.client.get("/leads?status=x", headers=A)
    proxy.client.post("/api/user/lead", headers=B, json={})
    with upstream.behaving(mode="status", status=503):
        proxy.client.get("/leads?status=y", headers=A)
    with upstream.behaving(mode="ratelimit"):
        proxy.client.get("/leads?status=z", headers=B)
    eventually(lambda: proxy.log().count(" upstream=") == 5)  # access lines: once a second
    outputs = [
        proxy.log(),
        proxy.client.get("/_proxy/stats").text,
        proxy.client.get("/_proxy/metrics").text,
    ]
    for output in outputs:
        for secret in (KEY_A, KEY_B, "alpha-secret", "bravo-secret", "admin-token-value"):
            assert secret not in output
    log = proxy.log()
    assert " HIT " in log
    assert " MISS " in log
    assert "key=" in log
    assert "Traceback" not in log
