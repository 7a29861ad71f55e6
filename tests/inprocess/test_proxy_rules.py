"""The proxy's time rules through the app as served: TTL, Age, stale answers, 429s.

Each test talks HTTP to proxy mode (`create_asgi`, in this process) and moves
a fake clock instead of waiting; it checks what a client sees (status,
X-Cache, Cache-Status, Age, ETag, body) and how often the upstream was asked.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable

import httpx
import pytest

from tests.fakes import WALL, Script, ok, status
from tests.inprocess.support import A, B, StartProxy

Answer = Callable[[httpx.Request], httpx.Response]


def version(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    found: int = response.json()[0]["version"]
    return found


def too_many(retry_after: str | bytes) -> Answer:
    """The upstream's 429, with Laravel's body and the Retry-After given."""
    value = retry_after.encode() if isinstance(retry_after, str) else retry_after
    return lambda _request: httpx.Response(
        429, json={"message": "Too Many Attempts."}, headers=[(b"retry-after", value)]
    )


def echo(request: httpx.Request) -> httpx.Response:
    """A listing that says which key and query it was answered for."""
    asked = {"key": request.headers["authorization"], "query": request.url.query.decode()}
    return httpx.Response(200, json=[asked])


def not_json(_request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"<html>")


def raises(error: Exception) -> Answer:
    def answer(_request: httpx.Request) -> httpx.Response:
        raise error

    return answer


def http_date(at: float) -> str:
    return email.utils.formatdate(at, usegmt=True)


# --- the TTL and Age -----------------------------------------------------------------


def test_ttl__a_hit_until_the_ttl_then_one_upstream_request(start_proxy: StartProxy) -> None:
    proxy = start_proxy(Script([ok(1), ok(2)]), ttl=10, stale_while_revalidate=0)
    first = proxy.get()
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["cache-status"] == "leads-proxy; fwd=miss; fwd-status=200; stored=?1"
    proxy.later(9.9)
    hit = proxy.get()
    assert (hit.headers["x-cache"], version(hit)) == ("HIT", 1)
    assert proxy.asked() == 1
    proxy.later(0.1)
    again = proxy.get()
    assert (again.headers["x-cache"], version(again)) == ("MISS", 2)
    assert proxy.asked() == 2
    assert proxy.get().headers["x-cache"] == "HIT"  # the new answer is the one cached
    assert proxy.asked() == 2


@pytest.mark.parametrize(
    ("elapsed", "age", "ttl"),
    [(0, 0, 30), (0.5, 0, 30), (1, 1, 29), (12.4, 12, 18), (29.9, 29, 1)],
)
def test_age__counts_up_in_whole_seconds_as_ttl_counts_down(
    start_proxy: StartProxy, elapsed: float, age: int, ttl: int
) -> None:
    proxy = start_proxy(Script([ok(1)]), ttl=30)
    assert proxy.get().headers["age"] == "0"
    proxy.later(elapsed)
    hit = proxy.get()
    assert hit.headers["age"] == str(age)
    assert hit.headers["cache-status"] == f"leads-proxy; hit; ttl={ttl}"


# --- stale-while-revalidate ----------------------------------------------------------


def test_stale_while_revalidate__stale_at_once_and_one_background_refresh(
    start_proxy: StartProxy,
) -> None:
    script = Script([ok(1), ok(2)])
    proxy = start_proxy(script, ttl=10, stale_while_revalidate=30)
    good = proxy.get()
    proxy.later(11)
    script.gate = asyncio.Event()  # the refresh is held: no stale answer may wait for it
    stale = [proxy.get() for _ in range(5)]
    assert {response.headers["x-cache"] for response in stale} == {"STALE"}
    assert {response.headers["cache-status"] for response in stale} == {
        "leads-proxy; hit; ttl=-1; detail=stale-while-revalidate"
    }
    assert {response.headers["age"] for response in stale} == {"11"}
    assert {response.content for response in stale} == {good.content}
    assert proxy.asked() == 2  # one refresh for five stale answers
    script.gate.set()
    proxy.settle()
    refreshed = proxy.get()
    assert (refreshed.headers["x-cache"], version(refreshed)) == ("HIT", 2)
    assert refreshed.headers["age"] == "0"
    assert proxy.asked() == 2


@pytest.mark.parametrize(("elapsed", "x_cache", "served"), [(14.9, "STALE", 1), (15, "MISS", 2)])
def test_stale_while_revalidate__past_its_window_a_request_waits_for_the_upstream(
    start_proxy: StartProxy, elapsed: float, x_cache: str, served: int
) -> None:
    proxy = start_proxy(Script([ok(1), ok(2)]), ttl=10, stale_while_revalidate=5)
    proxy.get()
    proxy.later(elapsed)
    answer = proxy.get()
    assert (answer.headers["x-cache"], version(answer)) == (x_cache, served)
    proxy.settle()
    assert proxy.asked() == 2  # a refresh in the background, or the request's own miss


# --- stale-if-error ------------------------------------------------------------------

FAILURES = [
    pytest.param(status(500), "fwd-status=500; ", id="500"),
    pytest.param(status(503), "fwd-status=503; ", id="503"),
    pytest.param(raises(httpx.ReadError("Connection reset by peer")), "", id="reset"),
    pytest.param(not_json, "fwd-status=200; ", id="garbage"),
    pytest.param(raises(httpx.ReadTimeout("timed out")), "", id="timeout"),
    pytest.param(raises(httpx.ConnectError("Connection refused")), "", id="refused"),
]


@pytest.mark.parametrize(("failure", "says"), FAILURES)
def test_stale_if_error__after_the_ttl_the_last_good_copy_stands_in_for_a_failure(
    start_proxy: StartProxy, failure: Answer, says: str
) -> None:
    proxy = start_proxy(Script([ok(1), failure, ok(2)]), ttl=10, stale_while_revalidate=0)
    good = proxy.get()
    proxy.later(11)
    stale = proxy.get()
    assert stale.status_code == 200
    assert stale.content == good.content
    assert stale.headers["etag"] == good.headers["etag"]
    assert stale.headers["x-cache"] == "STALE"
    assert stale.headers["cache-status"] == (
        f"leads-proxy; fwd=stale; {says}ttl=-1; detail=stale-if-error"
    )
    assert stale.headers["age"] == "11"
    recovered = proxy.get()  # the failure was not cached: the next request asks again
    assert (recovered.headers["x-cache"], version(recovered)) == ("MISS", 2)
    assert proxy.asked() == 3


def test_stale_if_error__past_its_window_the_copy_is_not_served(start_proxy: StartProxy) -> None:
    proxy = start_proxy(
        Script([ok(1), status(503)]), ttl=10, stale_while_revalidate=0, stale_if_error=5
    )
    proxy.get()
    proxy.later(14.9)
    assert proxy.get().headers["x-cache"] == "STALE"
    proxy.later(0.1)
    failed = proxy.get()
    assert failed.status_code == 502
    assert failed.headers["x-cache"] == "MISS"
    assert failed.headers["cache-status"] == "leads-proxy; fwd=miss; detail=status-5xx"
    assert failed.json()["message"] == (
        "The upstream answered 503, and no cached copy can be served."
    )
    assert proxy.asked() == 3


def test_stale_if_error__json_nested_too_deep_is_a_failure_the_last_copy_stands_in_for(
    start_proxy: StartProxy,
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    script = Script([ok(1), lambda _request: httpx.Response(200, content=deep)])
    proxy = start_proxy(script, ttl=10, stale_while_revalidate=0)
    good = proxy.get("/api/user/leads", A)
    proxy.later(11)
    stale = proxy.get("/api/user/leads", A)
    cold = proxy.get("/api/user/leads", B)
    assert stale.status_code == 200
    assert stale.content == good.content
    assert "fwd-status=200; ttl=-1; detail=stale-if-error" in stale.headers["cache-status"]
    assert cold.status_code == 502
    assert "nested too deep" in cold.json()["message"]
    assert proxy.asked() == 3


# --- 429 and Retry-After -------------------------------------------------------------


def test_cooldown__a_429_holds_the_key_until_retry_after_then_it_asks_again(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy(Script([too_many("20"), too_many("20"), ok(1)]))
    first = proxy.get()
    assert first.status_code == 429
    assert first.headers["retry-after"] == "20"
    assert first.headers["x-cache"] == "MISS"
    assert first.headers["cache-status"] == "leads-proxy; detail=rate-limited"
    assert first.json() == {"message": "Too Many Attempts."}  # the upstream's own body
    proxy.later(5)
    for query in ["", "?status=completed", "?page=2"]:  # every query of the key waits
        held = proxy.get(f"/leads{query}")
        assert held.status_code == 429
        assert held.headers["retry-after"] == "15"
        assert held.headers["cache-status"] == "leads-proxy; detail=rate-limited"
    assert proxy.asked() == 1  # nothing more was sent for this key
    assert proxy.get("/leads", B).status_code == 429  # B asked the upstream itself, told too
    assert proxy.asked(B) == 1
    proxy.later(14.9)
    last = proxy.get()
    assert (last.status_code, last.headers["retry-after"]) == (429, "1")
    proxy.later(0.1)
    assert version(proxy.get()) == 1
    assert proxy.asked(A) == 2


def test_cooldown__retry_after_as_an_http_date_is_read_on_the_wall_clock(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy(Script([too_many(http_date(WALL + 30)), ok(1)]))
    assert proxy.get().headers["retry-after"] == "30"
    proxy.later(10)
    held = proxy.get()
    assert (held.status_code, held.headers["retry-after"]) == (429, "20")
    assert proxy.asked() == 1
    proxy.later(20)
    assert version(proxy.get()) == 1
    assert proxy.asked() == 2


@pytest.mark.parametrize(
    ("retry_after", "max_cooldown", "held"),
    [
        ("20", 3600, 20),
        ("7", 5, 5),  # capped by --max-cooldown
        ("99999999999999999999", 3600, 3600),
        (http_date(WALL + 90), 3600, 90),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 5, 5),
        ("\u00b2".encode(), 3600, 10),  # not ASCII digits: the default wait
        ("-1", 3600, 10),
        ("soon", 3600, 10),
        ("", 3600, 10),
    ],
    ids=["seconds", "over-the-cap", "huge", "date", "year-9999", "superscript-two", "negative",
         "words", "empty"],
)  # fmt: skip
def test_cooldown__lasts_what_retry_after_says_within_max_cooldown(
    start_proxy: StartProxy, retry_after: str | bytes, max_cooldown: float, held: int
) -> None:
    proxy = start_proxy(Script([too_many(retry_after), ok(1)]), max_cooldown=max_cooldown)
    assert proxy.get().headers["retry-after"] == str(held)
    proxy.later(held - 0.01)
    assert proxy.get().headers["retry-after"] == "1"
    assert proxy.asked() == 1
    proxy.later(0.01)
    assert version(proxy.get()) == 1


def test_cooldown__a_stale_copy_is_served_while_the_key_waits(start_proxy: StartProxy) -> None:
    proxy = start_proxy(Script([ok(1), too_many("60"), ok(2)]), ttl=10, stale_while_revalidate=0)
    good = proxy.get()
    proxy.later(11)
    for _ in range(3):
        stale = proxy.get()
        assert stale.status_code == 200
        assert stale.content == good.content
        assert stale.headers["x-cache"] == "STALE"
        status_line = stale.headers["cache-status"]
        assert status_line == "leads-proxy; fwd=stale; ttl=-1; detail=rate-limited"
    assert proxy.asked() == 2  # the fill, and the one request that was told to wait
    proxy.later(60)
    assert version(proxy.get()) == 2


def test_cooldown__no_background_refresh_while_the_key_waits(start_proxy: StartProxy) -> None:
    proxy = start_proxy(Script([ok(1), too_many("60"), ok(2)]), ttl=10, stale_while_revalidate=30)
    proxy.get()
    assert proxy.get("/leads?page=2").status_code == 429  # the key, on another query
    proxy.later(11)
    stale = proxy.get()
    assert "detail=stale-while-revalidate" in stale.headers["cache-status"]
    proxy.settle()
    assert proxy.asked() == 2
    proxy.later(50)  # the cooldown is over, the copy past stale-while-revalidate: a miss
    assert version(proxy.get()) == 2


# --- the client's directives and validators ------------------------------------------


def test_no_cache__asks_again_while_fresh_and_the_answer_replaces_the_copy(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy(Script([ok(1), ok(2)]), ttl=30)
    proxy.get()
    proxy.later(5)
    refetched = proxy.get("/leads", {**A, "Cache-Control": "no-cache"})
    assert refetched.headers["x-cache"] == "MISS"
    assert refetched.headers["cache-status"] == (
        "leads-proxy; fwd=request; fwd-status=200; stored=?1"
    )
    assert version(refetched) == 2
    proxy.later(5)
    hit = proxy.get()
    assert (version(hit), hit.headers["age"]) == (2, "5")
    assert proxy.asked() == 2


def test_only_if_cached__a_fresh_or_stale_copy_else_504_without_asking(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy(Script([ok(1), ok(2)]), ttl=10, stale_while_revalidate=10)
    only = {**A, "Cache-Control": "only-if-cached"}
    nothing = proxy.get("/leads", only)
    assert nothing.status_code == 504
    assert nothing.headers["cache-status"] == "leads-proxy; detail=only-if-cached"
    assert proxy.asked() == 0
    proxy.get()
    proxy.later(9)
    assert proxy.get("/leads", only).headers["x-cache"] == "HIT"
    proxy.later(2)
    stale = proxy.get("/leads", only)  # within stale-while-revalidate: served, and refreshed
    assert (stale.headers["x-cache"], version(stale)) == ("STALE", 1)
    proxy.settle()
    assert proxy.asked() == 2
    proxy.later(20)  # past both windows of the refreshed copy
    gone = proxy.get("/leads", only)
    assert gone.status_code == 504
    assert proxy.asked() == 2


def test_if_none_match__304_while_fresh_or_stale_and_200_once_the_answer_changed(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy(Script([ok(1), ok(2)]), ttl=10, stale_while_revalidate=30)
    etag = proxy.get().headers["etag"]
    asks = {**A, "If-None-Match": etag}
    proxy.later(5)
    fresh = proxy.get("/leads", asks)
    assert fresh.status_code == 304
    assert fresh.content == b""
    assert (fresh.headers["etag"], fresh.headers["x-cache"], fresh.headers["age"]) == (
        etag,
        "HIT",
        "5",
    )
    proxy.later(6)
    stale = proxy.get("/leads", asks)
    assert (stale.status_code, stale.headers["x-cache"], stale.headers["age"]) == (
        304,
        "STALE",
        "11",
    )
    proxy.settle()  # the refresh: a new answer, a new ETag
    changed = proxy.get("/leads", asks)
    assert (changed.status_code, version(changed)) == (200, 2)
    assert changed.headers["etag"] != etag
    assert proxy.asked() == 2


# --- keys ------------------------------------------------------------------------------


def test_keys__each_key_and_query_has_its_own_copy_and_its_own_ttl(
    start_proxy: StartProxy,
) -> None:
    proxy = start_proxy(Script([echo]), ttl=10, stale_while_revalidate=0)

    def owner(response: httpx.Response) -> tuple[str, str]:
        assert response.status_code == 200, response.text
        answered = response.json()[0]
        return answered["key"], answered["query"]

    assert owner(proxy.get("/leads", A)) == (A["Authorization"], "")
    proxy.later(5)
    assert owner(proxy.get("/leads", B)) == (B["Authorization"], "")
    assert owner(proxy.get("/leads?status=x", A)) == (A["Authorization"], "status=x")
    proxy.later(6)  # A's first copy is 11 s old, the others 6 s
    expired = proxy.get("/leads", A)
    assert (expired.headers["x-cache"], owner(expired)) == ("MISS", (A["Authorization"], ""))
    for path, headers in [("/leads", B), ("/leads?status=x", A)]:
        hit = proxy.get(path, headers)
        assert (hit.headers["x-cache"], hit.headers["age"]) == ("HIT", "6")
        assert owner(hit)[0] == headers["Authorization"]
    assert (proxy.asked(A), proxy.asked(B)) == (3, 1)
