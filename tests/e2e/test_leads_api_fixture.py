"""The `leads_api` fixture as this suite's own tests meet it (the plugin is registered
in this project's environment too); tests/e2e/test_pytest_plugin.py proves it from a
separate project installed from the wheel."""

from __future__ import annotations

import httpx
import pytest

from leads_proxy.pytest_plugin import LeadsApi

KEY = {"Authorization": "Bearer 6|fixture-app-key"}


def test_leads_api__serves_the_bundled_fixtures_and_checks_the_key(leads_api: LeadsApi) -> None:
    assert leads_api.base_url.endswith("/api")
    listing = httpx.get(f"{leads_api.base_url}/user/leads", headers=KEY)
    assert listing.status_code == 200
    assert len(listing.json()) == 12
    assert httpx.get(f"{leads_api.base_url}/user/leads").status_code == 401
    asked = leads_api.requests(path="/api/user/leads")
    assert [entry["status"] for entry in asked] == [401, 200]
    assert leads_api.requests(status=401, limit=1)[0]["key"] is None


def test_leads_api__scenarios_and_rate_limits_for_the_next_requests(leads_api: LeadsApi) -> None:
    assert leads_api.requests() == []  # reset before the test
    leads_api.scenario(example="empty", delay_ms=1)
    assert httpx.get(f"{leads_api.base_url}/user/leads", headers=KEY).json() == []
    leads_api.scenario(dynamic=True, count=3, seed=7)
    assert len(httpx.get(f"{leads_api.base_url}/user/leads", headers=KEY).json()) == 3
    leads_api.scenario(code=503)
    assert httpx.get(f"{leads_api.base_url}/user/leads", headers=KEY).status_code == 503
    leads_api.scenario()
    leads_api.rate_limit(1)
    statuses = [httpx.get(f"{leads_api.base_url}/user/leads", headers=KEY).status_code
                for _ in range(2)]  # fmt: skip
    assert statuses == [200, 429]
    with pytest.raises(ValueError, match="code=418 is not a scenario"):
        leads_api.scenario(code=418)


def test_leads_api__the_next_test_starts_plain(leads_api: LeadsApi) -> None:
    assert httpx.get(f"{leads_api.base_url}/user/leads", headers=KEY).status_code == 200
    assert len(leads_api.requests()) == 1
