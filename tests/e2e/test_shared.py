"""Several leads-proxy processes on one real redis-server, as a scaled-out shield runs.

Every process is a real `leads-proxy serve --cache-url ...` on its own port;
the upstream is the fake one, counting what reaches it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from leads_proxy.proxy.cache import Entry, KeyMaker
from leads_proxy.proxy.redis.format import lock_key
from leads_proxy.proxy.redis.shared import Shared
from tests.fake_upstream import FakeUpstream
from tests.redis_server import RedisServer
from tests.support import Launch, Server, clean_env, eventually, free_port

KEY_A, KEY_B = "1|alpha-secret-key-0001", "2|bravo-secret-key-0002"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"Authorization": f"Bearer {KEY_B}"}
SECRET = "shared-secret-for-the-tests-0001"
ADMIN = "admin-token-0001"

StartShield = Callable[..., Server]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def start_shield(launch: Launch, upstream: FakeUpstream, redis_server: RedisServer) -> StartShield:
    """Launch one more leads-proxy process in proxy mode on the shared Redis."""

    def start(*args: str, cache_url: str | None = None) -> Server:
        return launch(
            "--mode",
            "proxy",
            "--upstream-url",
            upstream.url,
            "--cache-url",
            cache_url or redis_server.url,
            *args,
            env=clean_env(LEADS_PROXY_KEY_SECRET=SECRET, LEADS_PROXY_ADMIN_TOKEN=ADMIN),
        )

    return start


def fan_out(servers: list[Server], clients: int, path: str = "/api/user/leads") -> list[int]:
    """`clients` concurrent GETs spread over the servers; their statuses."""

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            gets = [
                client.get(servers[n % len(servers)].url + path, headers=A) for n in range(clients)
            ]
            return [response.status_code for response in await asyncio.gather(*gets)]

    return asyncio.run(run())


def test_shared__four_processes_400_clients_on_a_cold_key_make_one_upstream_request(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    shields = [start_shield() for _ in range(4)]
    # Slow enough that all 400 are in before the fill lands, on a slow CI machine too.
    with upstream.behaving(delay=1.5):
        statuses = fan_out(shields, 400)
    assert statuses == [200] * 400
    assert upstream.count() == 1
    stats = [shield.client.get("/_proxy/stats").json() for shield in shields]
    assert sum(s["upstream_requests"] for s in stats) == 1
    assert sum(s["shared_waits"] for s in stats) == 3  # one waiter per other process


def test_shared__an_entry_filled_by_one_process_is_a_hit_in_another(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    first, second = start_shield(), start_shield()
    filled = first.client.get("/api/user/leads?status=new", headers=A)
    assert filled.headers["x-cache"] == "MISS"
    hit = second.client.get("/api/user/leads?status=new", headers=A)
    assert hit.headers["x-cache"] == "HIT"
    assert hit.content == filled.content
    assert hit.headers["etag"] == filled.headers["etag"]
    assert upstream.count() == 1
    # Another key never gets that entry, from either process.
    other = second.client.get("/api/user/leads?status=new", headers=B)
    assert other.headers["x-cache"] == "MISS"
    assert upstream.count() == 2


def test_shared__redis_holds_no_api_key_in_keys_or_values(
    start_shield: StartShield, redis_server: RedisServer
) -> None:
    shield = start_shield()
    for headers in (A, B):
        assert shield.client.get("/api/user/leads", headers=headers).status_code == 200
    store = redis_server.client()
    keys = cast(list[bytes], store.keys("*"))
    assert len([key for key in keys if key.startswith(b"leads-proxy:leads:")]) == 2
    for key in keys:
        value = store.get(key) or b""
        for secret in (KEY_A, KEY_B, KEY_A.split("|")[1], KEY_B.split("|")[1]):
            assert secret.encode() not in key
            assert secret.encode() not in value


def test_shared__a_429_seen_by_one_process_holds_back_all_until_retry_after(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    shields = [start_shield() for _ in range(3)]
    with upstream.behaving(mode="ratelimit", retry_after="2"):
        told = shields[0].client.get("/api/user/leads", headers=A)
        assert told.status_code == 429
        assert upstream.count() == 1
        # Other processes, other queries of the same key: nobody asks upstream.
        for n, shield in enumerate(shields):
            held = shield.client.get(f"/api/user/leads?page={n + 2}", headers=A)
            assert held.status_code == 429, held.text
            assert 1 <= int(held.headers["retry-after"]) <= 2
        assert upstream.count() == 1
        # Another key is not held back.
        assert shields[1].client.get("/api/user/leads", headers=B).status_code == 429
        assert upstream.count() == 2
    time.sleep(2.1)
    assert shields[2].client.get("/api/user/leads?page=9", headers=A).status_code == 200
    assert upstream.count(A["Authorization"]) == 2


def test_shared__a_lock_left_by_a_dead_process_expires_on_its_own(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    shield = start_shield("--upstream-timeout", "1")
    # A process took the fill lock and died: the lock lives upstream-timeout + 1 s.
    key = KeyMaker(SECRET.encode()).key(KEY_A.encode(), "")
    redis_server.client().set(lock_key(key), b"dead-process", px=2000)
    started = time.monotonic()
    answer = shield.client.get("/api/user/leads", headers=A)
    waited = time.monotonic() - started
    assert answer.status_code == 200
    assert answer.headers["x-cache"] == "MISS"
    assert 1.0 < waited < 4.0  # waited for the lock, not forever
    assert upstream.count() == 1


def test_shared__purge_through_one_process_purges_every_process(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    first, second = start_shield("--local-ttl", "60"), start_shield("--local-ttl", "60")
    for shield in (first, second):
        assert shield.client.get("/api/user/leads", headers=A).status_code == 200
        assert shield.client.get("/api/user/leads", headers=A).headers["x-cache"] == "HIT"
    assert upstream.count() == 1
    purged = first.client.delete("/_proxy/cache", headers={"Authorization": f"Bearer {ADMIN}"})
    assert purged.json() == {"purged": 1, "scope": "all", "shared": True}
    # The second process held the entry in memory for a minute; the purge reached it.
    eventually(lambda: second.client.get("/_proxy/stats").json()["entries"] == 0)
    assert second.client.get("/api/user/leads", headers=A).headers["x-cache"] == "MISS"
    assert upstream.count() == 2


def test_shared__a_lead_write_through_one_process_drops_that_keys_listing_everywhere(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    first, second = start_shield("--local-ttl", "60"), start_shield("--local-ttl", "60")
    # Both processes hold both keys' listings in memory for a minute.
    for shield in (first, second):
        for headers in (A, B):
            assert shield.client.get("/api/user/leads", headers=headers).status_code == 200
    assert second.client.get("/api/user/leads", headers=A).headers["x-cache"] == "HIT"
    write = first.client.post("/api/user/lead", headers=A, json={"phone_number": "+15550001"})
    assert write.status_code == 200
    # The purge of A's listings reaches the second process: B's stays.
    eventually(lambda: second.client.get("/_proxy/stats").json()["entries"] == 1)
    assert second.client.get("/api/user/leads", headers=A).headers["x-cache"] == "MISS"
    assert second.client.get("/api/user/leads", headers=B).headers["x-cache"] == "HIT"


def test_shared__upstream_max_rps_is_one_budget_for_all_processes(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    shields = [start_shield("--upstream-max-rps", "10", "--ttl", "0") for _ in range(2)]

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(
                *(
                    client.get(shields[n % 2].url + f"/api/user/leads?page={n}", headers=A)
                    for n in range(12)
                )
            )

    asyncio.run(run())
    times = sorted(seen.at for seen in upstream.seen)
    assert len(times) == 12
    # 10 per second for both processes together, not 10 each: 12 requests
    # span 1.1 s (0.55 s if each process paced alone), and no half second
    # holds more than 6 (10 if each process paced alone).
    assert times[-1] - times[0] >= 11 * 0.1 * 0.9
    assert max(sum(1 for t in times if start <= t < start + 0.5) for start in times) <= 6


def stats_of(shield: Server) -> dict[str, Any]:
    answer: dict[str, Any] = shield.client.get("/_proxy/stats").json()
    return answer


def test_shared__redis_killed_mid_load_then_restarted_no_client_errors_entries_refill(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    shields = [start_shield("--ttl", "1", "--local-ttl", "0.2") for _ in range(2)]
    statuses: list[int] = []
    stop = threading.Event()

    def load(shield: Server, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=shield.url, timeout=30) as client:
            n = 0
            while not stop.is_set():
                n += 1
                answer = client.get(f"/api/user/leads?page={n % 5}", headers=headers)
                statuses.append(answer.status_code)

    threads = [
        threading.Thread(target=load, args=(shield, headers))
        for shield in shields
        for headers in (A, B)
    ]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(statuses) >= 50)  # load is flowing
        redis_server.kill()
        time.sleep(2.0)  # two seconds of load with Redis gone
        down = [shield.client.get("/_proxy/stats").json() for shield in shields]
        redis_server.start()
        eventually(lambda: all(stats_of(shield)["redis"] == "up" for shield in shields))
        # Load goes on until the restarted Redis holds entries again.
        eventually(lambda: len(redis_server.client().keys("leads-proxy:leads:*")) >= 2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert statuses, "no load was sent"
    assert set(statuses) == {200}, f"{len(statuses)} requests: {sorted(set(statuses))}"
    assert all(stats["redis"] == "down" and stats["redis_outages"] == 1 for stats in down)
    for shield in shields:
        stats = shield.client.get("/_proxy/stats").json()
        assert stats["redis"] == "up"
        log = shield.log()
        assert log.count("unavailable (") == 1, log
        assert log.count(" is back; ") == 1, log
    # The restarted Redis started empty; the processes filled it again.
    refilled = redis_server.client().keys("leads-proxy:leads:*")
    assert len(refilled) >= 2


def test_shared__starts_and_serves_while_redis_is_down(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    shield = start_shield(cache_url=nowhere)
    first = shield.client.get("/api/user/leads", headers=A)
    assert first.status_code == 200
    assert shield.client.get("/api/user/leads", headers=A).headers["x-cache"] == "HIT"
    assert upstream.count() == 1
    stats = shield.client.get("/_proxy/stats").json()
    assert stats["redis"] == "down"
    assert stats["redis_errors"] >= 1
    assert shield.log().count("unavailable (") == 1
    assert "serving from this process's memory" in shield.log()


def test_shared__slow_redis_counts_as_down_and_costs_a_client_at_most_the_timeout(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    shield = start_shield("--cache-timeout", "0.2")
    assert shield.client.get("/api/user/leads", headers=A).status_code == 200
    # Freeze Redis for 3 s: it accepts connections but answers nothing.
    redis_server.client().execute_command("CLIENT", "PAUSE", "3000", "ALL")  # type: ignore[no-untyped-call]
    started = time.monotonic()
    answers = [shield.client.get(f"/api/user/leads?page={n}", headers=A) for n in range(5)]
    spent = time.monotonic() - started
    assert [answer.status_code for answer in answers] == [200] * 5
    assert spent < 2.0  # not 5 x the timeout: down after the first, then not asked
    assert shield.client.get("/_proxy/stats").json()["redis"] == "down"


def test_shared__stats_and_metrics_hold_across_workers(
    start_shield: StartShield, upstream: FakeUpstream
) -> None:
    shield = start_shield("--workers", "2")
    for n in range(40):
        response = httpx.get(f"{shield.url}/api/user/leads?page={n % 4}", headers=A, timeout=30)
        assert response.status_code == 200
    # Every scrape sees the same totals, whichever worker answers it.
    for _ in range(6):
        stats = httpx.get(f"{shield.url}/_proxy/stats", timeout=30).json()
        assert stats["workers"] == 2
        assert stats["requests"] == 40
        assert stats["hits"] + stats["misses"] == 40
        assert stats["upstream_requests"] == upstream.count() == 4
    metrics = httpx.get(f"{shield.url}/_proxy/metrics", timeout=30).text
    assert "leads_proxy_requests_total 40.0" in metrics
    assert "leads_proxy_workers 2.0" in metrics


def test_shared__an_entry_redis_lost_is_put_back_by_a_process_holding_it(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    shield = start_shield("--local-ttl", "0.1")
    assert shield.client.get("/api/user/leads", headers=A).status_code == 200
    store = redis_server.client()
    store.flushall()  # as after a restart, or an eviction
    time.sleep(0.2)
    again = shield.client.get("/api/user/leads", headers=A)
    assert again.headers["x-cache"] == "HIT"  # served from memory; Redis refilled behind it
    eventually(lambda: store.keys("leads-proxy:leads:*"))
    assert len(store.keys("leads-proxy:leads:*")) == 1
    assert upstream.count() == 1


def test_shared__a_copy_made_before_a_purge_is_never_put_back(redis_server: RedisServer) -> None:
    key = KeyMaker(SECRET.encode()).key(KEY_A.encode(), "")

    def copy(stored_at: float) -> Entry:
        return Entry.build(
            b"[]",
            etag=b'"e"',
            content_type=b"application/json",
            stored_at=stored_at,
            fresh_until=stored_at + 30,
            stale_until=stored_at + 60,
            error_until=stored_at + 600,
        )

    async def run() -> tuple[bool, bool, bool]:
        shared = Shared(redis_server.url)
        try:
            now = time.monotonic()
            old = copy(now - 1)
            assert await shared.put(key, old)
            assert await shared.purge(key.fingerprint) == 1
            refused = await shared.restore(key, old)  # made before the purge
            accepted = await shared.restore(key, copy(time.monotonic() + 0.01))
            again = await shared.restore(key, copy(time.monotonic() + 0.02))  # present now
            return refused, accepted, again
        finally:
            await shared.close()

    assert asyncio.run(run()) == (False, True, False)


def test_shared__purging_many_entries_takes_many_calls_and_is_not_taken_for_redis_down(
    redis_server: RedisServer,
) -> None:
    store = redis_server.client()
    with store.pipeline(transaction=False) as pipe:
        for n in range(50_000):
            pipe.set(f"leads-proxy:leads:{{{'f' * 32}}}:page={n}", b"x", px=600_000)
        pipe.execute()

    async def run() -> tuple[int | None, bool]:
        shared = Shared(redis_server.url, timeout=0.05)
        try:
            return await shared.purge("f" * 32), shared.available
        finally:
            await shared.close()

    assert asyncio.run(run()) == (50_000, True)
    assert store.keys("leads-proxy:leads:*") == []


# --- junk and a full Redis ------------------------------------------------------------


def test_shared__junk_in_redis_is_dropped_and_never_served(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    shield = start_shield("--local-ttl", "0")
    assert shield.client.get("/api/user/leads", headers=A).status_code == 200
    store = redis_server.client()
    (key,) = cast(list[bytes], store.keys("leads-proxy:leads:*"))
    junk = [
        b'{"format":1,"stored_at":1,"fresh_until":Infinity,"stale_until":1e99,'
        b'"error_until":1e99,"etag":"\\"x\\"","content_type":"text/html"}\n<html>',
        b"no metadata at all",
    ]
    for value in junk:
        store.set(key, value)
        shield.client.delete("/_proxy/cache", headers={"Authorization": f"Bearer {ADMIN}"})
        store.set(key, value)  # the purge took it; put the junk back behind it
        answer = shield.client.get("/api/user/leads", headers=A)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()[0]["variables"]["key_tag"]  # the upstream's answer, not the junk
        eventually(partial(lambda junk: store.get(key) != junk, value))  # dropped, or refilled
    stats = stats_of(shield)
    assert stats["redis"] == "up"
    assert stats["redis_outages"] == 0
    assert "not an entry; dropped" in shield.log()


def test_shared__a_junk_pace_value_neither_stalls_nor_downs_anyone(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    shield = start_shield("--upstream-max-rps", "20")
    store = redis_server.client()
    for junk in (b"junk", b"99999999999999999999"):
        store.set("leads-proxy:pace", junk)
        started = time.monotonic()
        for page in range(3):
            answer = shield.client.get(f"/api/user/leads?page={page}&j={junk[:2]!r}", headers=A)
            assert answer.status_code == 200
        assert time.monotonic() - started < 2
    assert stats_of(shield)["redis_outages"] == 0


def test_shared__a_full_redis_is_full_not_down(
    start_shield: StartShield, upstream: FakeUpstream, redis_server: RedisServer
) -> None:
    store = redis_server.client()
    store.config_set("maxmemory-policy", "noeviction")
    used = int(cast(dict[str, int], store.info("memory"))["used_memory"])
    store.config_set("maxmemory", str(used + 64 * 1024))
    shield = start_shield("--local-ttl", "0")
    try:
        filler = 0
        while True:  # fill it up: every write is refused from here on
            try:
                store.set(f"filler:{filler}", b"x" * 4096)
            except redis.exceptions.OutOfMemoryError:
                break
            filler += 1
        answers = [shield.client.get(f"/api/user/leads?page={n}", headers=A) for n in range(4)]
        assert [answer.status_code for answer in answers] == [200] * 4
        again = shield.client.get("/api/user/leads?page=1", headers=A)
        assert again.headers["x-cache"] == "HIT"  # served from memory
        stats = stats_of(shield)
        assert stats["redis"] == "up"
        assert stats["redis_outages"] == 0
        assert stats["redis_full"] >= 4
        assert shield.log().count("is full (maxmemory)") == 1
    finally:
        store.config_set("maxmemory", "0")


def descendants(pid: int) -> list[int]:
    """The processes started by `pid`, and theirs."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_workers__secrets_reach_workers_in_a_private_file_never_their_environment(
    launch: Launch, upstream: FakeUpstream, redis_server: RedisServer, http_server: str
) -> None:
    password_url = redis_server.url  # no password on the test server; the secrets are flags
    secret, admin = "key-secret-in-a-flag-0001", "admin-token-in-a-flag"
    shield = launch(
        "--mode", "proxy", "--upstream-url", upstream.url, "--workers", "2",
        "--cache-url", password_url, "--key-secret", secret, "--admin-token", admin,
        env=clean_env(),
    )  # fmt: skip
    assert shield.client.get("/api/user/leads", headers=A).status_code == 200
    workers = descendants(shield.process.pid)
    assert len(workers) >= 2
    handed = None
    for pid in workers:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes()
        assert secret.encode() not in environ
        assert admin.encode() not in environ
        for item in environ.split(b"\0"):
            if item.startswith(b"_LEADS_PROXY_WORKER="):
                handed = Path(item.split(b"=", 1)[1].decode())
    if http_server == "granian":  # forked workers: /proc shows the environment before it
        return
    assert handed is not None
    assert handed.stat().st_mode & 0o777 == 0o600
    assert handed.parent.stat().st_mode & 0o077 == 0  # a private folder
    shield.stop()
    assert not handed.exists()  # removed with its folder at exit
