"""Two replicas of leads-proxy on the Redis that production is given: a 3-master
cluster, a TLS-only server with a private CA (and client certificates), a
Sentinel service, and an ACL user with exactly the permissions docs/scale-out.md
lists. Every deployment is real, on loopback (`tests.redis_setups`); every
replica is a real `leads-proxy serve --cache-url ...`.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_upstream import FakeUpstream
from tests.redis_setups import AclRedis, RedisCluster, SentinelSetup, TlsRedis
from tests.support import Launch, Server, clean_env, eventually, refused_at_start

SECRET = "managed-redis-secret-for-tests-01"
ADMIN = "managed-admin-token-01"
KEYS = [f"{n}|managed-key-{n:04d}" for n in range(24)]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"
ACL_LINE = re.compile(r"^ACL SETUSER leads-proxy on >PASSWORD (.+)$", re.MULTILINE)

# A burst of 96 requests opens dozens of TLS connections at once: on a CI machine
# whose CPUs run other test servers too, the handshakes can take longer than the
# default 0.25 s a Redis call gets, and the layer (by design) falls back to the
# upstream for a moment. These tests are about sharing, so they allow more.
HANDSHAKES = ("--cache-timeout", "2")
Deployment = Any  # the running Redis: .url, .stop()
Replicas = Callable[..., list[Server]]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def documented_acl() -> str:
    found = ACL_LINE.search(DOCS.read_text(encoding="utf-8"))
    assert found, "docs/scale-out.md lists the ACL a leads-proxy user needs"
    return found[1]


@pytest.fixture
def replicas(launch: Launch, upstream: FakeUpstream) -> Replicas:
    """Start `count` leads-proxy processes in proxy mode on the given Redis URL."""

    def start(url: str, *args: str, count: int = 2) -> list[Server]:
        return [
            launch(
                "--mode",
                "proxy",
                "--upstream-url",
                upstream.url,
                "--cache-url",
                url,
                *args,
                env=clean_env(LEADS_PROXY_KEY_SECRET=SECRET, LEADS_PROXY_ADMIN_TOKEN=ADMIN),
            )
            for _ in range(count)
        ]

    return start


def stats(server: Server) -> dict[str, Any]:
    answer: dict[str, Any] = server.client.get("/_proxy/stats").json()
    return answer


def gather(servers: list[Server], paths: list[tuple[str, str]]) -> list[int]:
    """Every (key, path) asked at once, spread over the servers; the statuses."""

    async def run() -> list[int]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as c:
            gets = [c.get(servers[n % len(servers)].url + path, headers=bearer(key))
                    for n, (key, path) in enumerate(paths)]  # fmt: skip
            return [answer.status_code for answer in await asyncio.gather(*gets)]

    return asyncio.run(run())


def shares_everything(shields: list[Server], upstream: FakeUpstream) -> None:
    """What one Redis gives replicas: one fill per key, one budget, one 429 cooldown,
    one purge, and no Redis error on the way."""
    asked = [(key, "/api/user/leads") for key in KEYS for _ in range(4)]
    assert set(gather(shields, asked)) == {200}
    for key in KEYS:
        assert upstream.count(f"Bearer {key}") == 1, key
    times = sorted(seen.at for seen in upstream.seen)
    assert times[-1] - times[0] >= (len(KEYS) - 1) / 40 * 0.9  # --upstream-max-rps 40, shared
    first = f"Bearer {KEYS[0]}"
    with upstream.behaving(mode="ratelimit", retry_after="2"):
        told = shields[0].client.get("/api/user/leads?page=7", headers=bearer(KEYS[0]))
        assert told.status_code == 429
        held = shields[1].client.get("/api/user/leads?page=8", headers=bearer(KEYS[0]))
        assert held.status_code == 429
        assert upstream.count(first) == 2  # the fill, and the one 429
    purged = shields[0].client.delete("/_proxy/cache", headers=bearer(ADMIN)).json()
    assert purged["shared"] is True
    assert purged["purged"] >= len(KEYS)
    eventually(lambda: all(stats(shield)["entries"] == 0 for shield in shields))
    for shield in shields:
        seen = stats(shield)
        assert (seen["redis"], seen["redis_errors"], seen["redis_outages"]) == ("up", 0, 0)
        assert "Traceback" not in shield.log()
        assert "refused a command" not in shield.log()


# --- a cluster -------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    running = RedisCluster(tmp_path).start()
    yield running
    running.stop()


def test_cluster__replicas_share_on_a_plain_url_keys_spread_over_every_master(
    replicas: Replicas, upstream: FakeUpstream, cluster: RedisCluster
) -> None:
    shields = replicas(cluster.url, "--upstream-max-rps", "40")
    ready = shields[0].client.get("/_proxy/ready").json()
    assert ready["redis"] == {"up": True, "kind": "cluster with 3 masters"}
    assert "(cluster with 3 masters) shared by this process" in shields[1].log()
    shares_everything(shields, upstream)
    cooled = KEYS[1:]  # KEYS[0] still cools down from its 429
    assert set(gather(shields, [(key, "/api/user/leads?status=new") for key in cooled])) == {200}
    held = Counter(
        cluster.master_of(name.decode())
        for n in range(3)
        for name in cluster.node_client(n).scan_iter(match="leads-proxy:leads:*")
    )
    assert set(held) == {0, 1, 2}
    assert sum(held.values()) == len(cooled)
    status = shields[0].client.get("/_proxy/status", headers=bearer(ADMIN)).json()
    assert status["redis_kind"] == "cluster with 3 masters"


def test_cluster__a_master_killed_under_load_loses_no_request_and_only_its_keys_wait(
    replicas: Replicas, upstream: FakeUpstream, cluster: RedisCluster
) -> None:
    shields = replicas(cluster.url, "--ttl", "1", "--local-ttl", "0.2")
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=30) as http:
            n = 0
            while not stop.is_set():
                key = KEYS[n % len(KEYS)]
                answer = http.get(shields[n % 2].url + "/api/user/leads", headers=bearer(key))
                statuses.append(answer.status_code)
                n += 1

    worker = threading.Thread(target=load)
    worker.start()
    try:
        time.sleep(1.0)
        cluster.kill(1)
        time.sleep(2.5)
        cluster.restart(1)
        time.sleep(2.5)
    finally:
        stop.set()
        worker.join()
    assert len(statuses) > 100
    assert set(statuses) == {200}
    for shield in shields:
        log = shield.log()
        assert f"cluster node 127.0.0.1:{cluster.ports[1]} unavailable" in log
        assert stats(shield)["redis_outages"] == 0  # one node, never the whole layer
    eventually(lambda: all(f"{cluster.ports[1]} is back" in s.log() for s in shields), within=15)
    on_it = next(key for key in KEYS if cluster.master_of(key_entry(key)) == 1)
    before = upstream.count(f"Bearer {on_it}")
    assert set(gather(shields, [(on_it, "/api/user/leads?page=3")] * 6)) == {200}
    assert upstream.count(f"Bearer {on_it}") == before + 1  # shared again once it is back


def key_entry(key: str) -> str:
    """The Redis name of `key`'s listing entry (as the replicas make it)."""
    from leads_proxy.proxy.cache import KeyMaker  # noqa: PLC0415
    from leads_proxy.proxy.redis.format import entry_key  # noqa: PLC0415

    return entry_key(KeyMaker(SECRET.encode()).key(key.encode(), ""))


# --- TLS -----------------------------------------------------------------------------


def test_tls__a_private_ca_shares_and_a_missing_or_wrong_ca_is_one_line(
    replicas: Replicas, upstream: FakeUpstream, launch: Launch, tmp_path: Path
) -> None:
    tls = TlsRedis(tmp_path).start()
    try:
        shields = replicas(tls.url(), "--upstream-max-rps", "40", *HANDSHAKES)
        shares_everything(shields, upstream)
        assert shields[0].client.get("/_proxy/ready").json()["redis"]["kind"] == "single server"
        for url in (tls.url(ca=False), tls.url().replace(str(tls.ca), str(tls.other_ca))):
            (alone,) = replicas(url, count=1)
            lines = [line for line in alone.log().splitlines() if "unavailable" in line]
            assert len(lines) == 1, alone.log()
            assert "TLS: certificate verify failed" in lines[0]
            answer = alone.client.get("/api/user/leads", headers=bearer(KEYS[0]))
            assert answer.status_code == 200  # served without Redis
    finally:
        tls.stop()


def test_tls__client_certificates(
    replicas: Replicas, upstream: FakeUpstream, tmp_path: Path
) -> None:
    tls = TlsRedis(tmp_path, client_certs=True).start()
    try:
        shields = replicas(tls.url(client=True), "--upstream-max-rps", "40", *HANDSHAKES)
        shares_everything(shields, upstream)
        (without,) = replicas(tls.url(), count=1)
        eventually(lambda: "unavailable" in without.log())
    finally:
        tls.stop()


def test_tls__a_ca_file_that_is_not_there_stops_the_start(tmp_path: Path) -> None:
    url = f"rediss://:pw-never-shown@127.0.0.1:1/0?ssl_ca_certs={tmp_path}/none.pem"
    line = refused_at_start("--mode", "proxy", "--cache-url", url, "--key-secret", SECRET)
    assert "ssl_ca_certs" in line
    assert "No such file or directory" in line
    assert "pw-never-shown" not in line


# --- Sentinel ------------------------------------------------------------------------


def test_sentinel__a_failover_under_load_costs_no_error_and_one_request_a_key_at_most(
    replicas: Replicas, upstream: FakeUpstream, tmp_path: Path
) -> None:
    sentinels = SentinelSetup(tmp_path).start()
    try:
        shields = replicas(sentinels.url, "--upstream-max-rps", "40")
        assert shields[0].client.get("/_proxy/ready").json()["redis"] == {
            "up": True,
            "kind": "sentinel service leads",
        }
        shares_everything(shields, upstream)
        upstream.seen.clear()
        keys = KEYS[1:7]  # KEYS[0] still cools down from its 429
        statuses: list[int] = []
        failed_over = threading.Event()

        def failover() -> None:
            time.sleep(0.5)
            sentinels.failover()
            failed_over.set()

        mover = threading.Thread(target=failover)
        mover.start()
        page = 0
        while not failed_over.is_set() or page < 40:
            page += 1
            asked = [(key, f"/api/user/leads?page={page}") for key in keys for _ in range(2)]
            statuses += gather(shields, asked)
            time.sleep(0.05)
        mover.join()
        assert set(statuses) == {200}
        extra = Counter(f"{seen.headers['authorization']}" for seen in upstream.seen)
        for key in keys:
            assert extra[f"Bearer {key}"] - page <= 1, (key, extra[f"Bearer {key}"], page)
    finally:
        sentinels.stop()


# --- least privilege -----------------------------------------------------------------


def test_acl__a_user_with_exactly_the_documented_permissions_shares_everything(
    replicas: Replicas, upstream: FakeUpstream, tmp_path: Path
) -> None:
    acl = AclRedis(tmp_path, documented_acl()).start()
    try:
        shields = replicas(acl.url, "--upstream-max-rps", "40")
        shares_everything(shields, upstream)
    finally:
        acl.stop()


def test_acl__a_missing_permission_is_one_line_naming_it_not_an_outage(
    replicas: Replicas, upstream: FakeUpstream, tmp_path: Path
) -> None:
    acl = AclRedis(tmp_path, documented_acl().replace(" +publish", "")).start()
    try:
        shields = replicas(acl.url)
        assert set(gather(shields, [(KEYS[0], "/api/user/leads")] * 8)) == {200}
        assert upstream.count() == 1  # fills are still shared
        for _ in range(3):
            purged = shields[0].client.delete("/_proxy/cache", headers=bearer(ADMIN))
            assert purged.status_code == 200
        refused = [line for line in shields[0].log().splitlines() if "refused a command" in line]
        assert len(refused) == 1
        assert "'publish'" in refused[0]
        assert stats(shields[0])["redis_outages"] == 0
        assert shields[0].client.get("/_proxy/ready").json()["redis"]["up"] is True
    finally:
        acl.stop()
