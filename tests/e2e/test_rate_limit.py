"""--mock-rate-limit through real servers: Laravel's throttle as apps meet it, and
proxy mode in front of it shielding many clients from its 429s."""

from __future__ import annotations

import threading
import time

import httpx

from tests.support import AUTH, Launch, clean_env, key_header


def test_mock_rate_limit__counts_down_then_429_per_key(launch: Launch) -> None:
    mock = launch("--mock-rate-limit", "3/minute")
    paths = ["/api/user/leads", "/api/user/leads?status=completed", "/api/user/leads"]
    answers = [mock.client.get(path, headers=AUTH) for path in paths]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["x-ratelimit-limit"] for a in answers] == ["3", "3", "3"]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]

    refused = mock.client.get("/api/user/leads", headers=AUTH)
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too Many Attempts."}
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    reset = int(refused.headers["x-ratelimit-reset"])
    assert abs(reset - (time.time() + int(refused.headers["retry-after"]))) <= 2

    other = mock.client.get("/api/user/leads", headers=key_header("2|another-key"))
    assert (other.status_code, other.headers["x-ratelimit-remaining"]) == (200, "2")
    assert "x-ratelimit-limit" not in mock.client.get("/_proxy/health").headers


def test_mock_rate_limit__off_by_default(launch: Launch) -> None:
    mock = launch()
    answers = [mock.client.get("/api/user/leads", headers=AUTH) for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert "x-ratelimit-limit" not in answers[0].headers


def test_mock_rate_limit__a_proxy_in_front_shields_many_clients(launch: Launch) -> None:
    mock = launch("--mock-rate-limit", "4/minute")
    proxy = launch(
        "--mode", "proxy", "--upstream-url", f"{mock.url}/api",
        "--ttl", "0.3", "--stale-while-revalidate", "0", "--stale-if-error", "300",
        env=clean_env(),
    )  # fmt: skip
    keys = [key_header(f"{n}|client-key-{n}") for n in range(2)]
    for key in keys:  # a cached copy for each key first
        assert proxy.client.get("/api/user/leads", headers=key).status_code == 200
    statuses: list[int] = []
    lock = threading.Lock()
    until = time.monotonic() + 3.0

    def client(key: dict[str, str]) -> None:
        with httpx.Client(base_url=proxy.url, timeout=30) as http:
            while time.monotonic() < until:
                got = http.get("/api/user/leads", headers=key).status_code
                with lock:
                    statuses.append(got)
                time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(keys[n % 2],)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(statuses) > 200
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    stats = proxy.client.get("/_proxy/stats").json()
    # The mock did refuse: the proxy met its 429s and served its copies instead.
    assert stats["upstream_errors"].get("rate_limited", 0) >= 1, stats
    assert stats["stale_served"] > 0
