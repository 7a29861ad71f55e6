"""The request journal through real servers: what an app asked, as a developer or a
test reads it back from /_proxy/requests; cleared on request; across workers."""

from __future__ import annotations

import httpx

from tests.fake_upstream import FakeUpstream
from tests.support import Launch, clean_env, eventually, shown_fingerprint

KEY = "4|journal-app-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_journal__says_what_each_request_asked_and_got(launch: Launch) -> None:
    mock = launch("--admin-token", "journal-admin-token-0001")
    asked = mock.client.get(
        "/api/user/leads?status=completed&phone_number=%2B971501234567",
        headers={**AUTH, "Prefer": "delay=120"},
    )
    mock.client.get("/api/user/leads", headers={**AUTH, "Prefer": "example=empty"})
    mock.client.get("/api/user/leads")
    found = mock.client.get("/_proxy/requests").json()["requests"]
    assert [entry["status"] for entry in found] == [401, 200, 200]  # newest first
    unauthenticated, preferred, filtered = found
    assert filtered["query"] == "status=completed&phone_number=+**********67"
    assert filtered["key"] == shown_fingerprint(f"Bearer {KEY}")
    assert (filtered["method"], filtered["path"], filtered["source"]) == (
        "GET", "/api/user/leads", "emulated"
    )  # fmt: skip
    assert preferred["prefer"] == "example=empty"
    assert unauthenticated["key"] is None
    assert filtered["prefer"] == "delay=120"
    # Its time: at least the delay it asked for, at most what its client waited.
    assert 120 <= filtered["ms"] <= asked.elapsed.total_seconds() * 1000
    assert KEY not in mock.client.get("/_proxy/requests").text

    only = mock.client.get("/_proxy/requests", params={"status": 401}).json()["requests"]
    assert [entry["status"] for entry in only] == [401]
    mine = mock.client.get("/_proxy/requests", params={"key": filtered["key"], "limit": 1})
    assert len(mine.json()["requests"]) == 1

    assert mock.client.delete("/_proxy/requests").status_code == 401  # the admin token is set
    admin = {"Authorization": "Bearer journal-admin-token-0001"}
    assert mock.client.delete("/_proxy/requests", headers=admin).status_code == 200
    assert mock.client.get("/_proxy/requests").json()["requests"] == []


def test_journal__proxy_mode_tells_cache_results_and_upstream_time(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    proxy.client.get("/api/user/leads", headers=AUTH)
    proxy.client.get("/api/user/leads", headers=AUTH)
    proxy.client.post("/api/user/leads/7/call", headers=AUTH)
    found = proxy.client.get("/_proxy/requests").json()["requests"]
    forwarded, hit, miss = found
    assert (miss["cache"], hit["cache"]) == ("miss", "hit")
    assert miss["upstream_ms"] is not None
    assert hit["upstream_ms"] is None
    assert (forwarded["method"], forwarded["path"]) == ("POST", "/api/user/leads/7/call")
    assert proxy.client.get("/_proxy/requests", params={"cache": "hit"}).json()["requests"] == [hit]


def test_journal__covers_every_worker(launch: Launch) -> None:
    mock = launch("--workers", "2")
    sent = 0
    for _ in range(10):  # a connection each: the kernel spreads them over the workers
        for _ in range(20):
            httpx.get(f"{mock.url}/api/user/leads?n={sent}", headers=AUTH, timeout=10)
            sent += 1
        answered_by = {e["worker"] for e in mock.client.get("/_proxy/requests").json()["requests"]}
        if len(answered_by) == 2:
            break

    def all_there() -> bool:
        return len(mock.client.get("/_proxy/requests").json()["requests"]) == sent

    eventually(all_there, within=10)
    found = mock.client.get("/_proxy/requests").json()["requests"]
    assert {entry["query"] for entry in found} == {f"n={n}" for n in range(sent)}
    assert len({entry["worker"] for entry in found}) == 2  # one answer covers both workers
    assert mock.client.delete("/_proxy/requests").status_code == 200
    eventually(lambda: mock.client.get("/_proxy/requests").json()["requests"] == [], within=10)


def test_journal__off(launch: Launch) -> None:
    mock = launch("--journal-size", "0")
    mock.client.get("/api/user/leads", headers=AUTH)
    assert mock.client.get("/_proxy/requests").status_code == 404


def test_scenario__set_for_requests_without_prefer_then_cleared(launch: Launch) -> None:
    mock = launch("--admin-token", "scenario-admin-token-0001")
    admin = {"Authorization": "Bearer scenario-admin-token-0001"}
    assert mock.client.put("/_proxy/scenario", json={"prefer": "code=503"}).status_code == 401
    for bad in ({"prefer": "code=418"}, {"rate_limit": 0}, {"prefer": 7}, [1]):
        refused = mock.client.put("/_proxy/scenario", json=bad, headers=admin)
        assert refused.status_code == 422, bad
        assert refused.json()["message"]
    set_ = mock.client.put("/_proxy/scenario", json={"prefer": "code=503"}, headers=admin)
    assert set_.status_code == 200
    assert mock.client.get("/api/user/leads", headers=AUTH).status_code == 503
    own = {**AUTH, "Prefer": "example=empty"}
    assert mock.client.get("/api/user/leads", headers=own).json() == []  # its own Prefer wins
    assert mock.client.delete("/_proxy/scenario", headers=admin).status_code == 200
    assert mock.client.get("/api/user/leads", headers=AUTH).status_code == 200
