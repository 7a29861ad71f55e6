"""The pytest plugin from outside the project, as a downstream app meets it: a
throwaway project with a toy client installs leads-proxy from its built wheel
and tests the client with nothing but the `leads_api` fixture.

The throwaway project's own package is named `app` (the commonest name there
is): installed, leads-proxy is `leads_proxy`, so the two never meet. And an
HTTP proxy set in the environment that leads nowhere must not matter: the
plugin talks to its own loopback server directly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

CLIENT = '''
import time

import httpx


def all_leads(base_url, key, *, status=None, per_page=5):
    """Every lead, following the paginator's next_page_url."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    params = {"per_page": per_page, **({"status": status} if status else {})}
    url, leads = f"{base_url}/user/leads", []
    with httpx.Client(headers=headers, trust_env=False) as http:
        answer = http.get(url, params=params)
        while True:
            answer.raise_for_status()
            page = answer.json()
            leads += page["data"]
            if not page["next_page_url"]:
                return leads
            answer = http.get(page["next_page_url"])


def push_lead(base_url, key, phone_number, campaign_id, **variables):
    """Create a lead in a campaign; its id."""
    body = {"phone_number": phone_number, "campaign_id": campaign_id, "variables": variables}
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, trust_env=False) as http:
        answer = http.post(f"{base_url}/user/lead", json=body)
        answer.raise_for_status()
        return answer.json()["data"]["id"]


def wait_for_lead(base_url, key, lead_id, *, status="created", seconds=5.0):
    """Poll the listing until the lead is there with `status`; the lead."""
    deadline = time.monotonic() + seconds
    while True:
        for lead in all_leads(base_url, key, per_page=100):
            if lead["id"] == lead_id and lead["status"] == status:
                return lead
        if time.monotonic() > deadline:
            raise TimeoutError(f"lead {lead_id} never became {status}")
        time.sleep(0.1)


def on_call_ended(payload, seen):
    """The app's webhook handler: what it keeps of a post-call webhook."""
    seen[payload["lead"]["id"]] = (payload["status"], payload["lead"]["status"])
'''

TESTS = """
import httpx
import pytest

from app.client import all_leads


def test_walks_every_page(leads_api):
    leads = all_leads(leads_api.base_url, "app-key")
    assert len(leads) == 12
    asked = leads_api.requests(path="/api/user/leads")
    assert [entry["query"] for entry in reversed(asked)] == [
        "per_page=5", "per_page=5&page=2", "per_page=5&page=3"
    ]
    assert all(entry["status"] == 200 and entry["key"] for entry in asked)


def test_filters_on_the_server(leads_api):
    all_leads(leads_api.base_url, "app-key", status="completed")
    (asked,) = leads_api.requests()
    assert "status=completed" in asked["query"]


def test_a_rate_limit_is_an_error_the_app_sees(leads_api):
    leads_api.scenario(code=429)
    with pytest.raises(httpx.HTTPStatusError) as error:
        all_leads(leads_api.base_url, "app-key")
    assert error.value.response.status_code == 429


def test_backs_off_when_throttled(leads_api):
    leads_api.rate_limit(2)
    with pytest.raises(httpx.HTTPStatusError) as error:
        all_leads(leads_api.base_url, "app-key", per_page=5)  # three pages, two allowed
    assert error.value.response.headers["retry-after"]
    assert [entry["status"] for entry in leads_api.requests()] == [429, 200, 200]


def test_pushes_a_lead_and_waits_for_it(leads_api):
    from app.client import push_lead, wait_for_lead

    lead_id = push_lead(leads_api.base_url, "app-key", "+12015550123", 1, name="Ada")
    lead = wait_for_lead(leads_api.base_url, "app-key", lead_id)
    assert lead["phone_number"] == "+12015550123"
    assert lead["variables"] == {"name": "Ada"}
    assert lead["campaign"]["id"] == 1
    assert all(lead["id"] != lead_id for lead in all_leads(leads_api.base_url, "other-key"))
    (asked,) = leads_api.requests(path="/api/user/lead")
    assert asked["method"] == "POST" and asked["status"] == 200


def test_a_pushed_lead_is_called_and_its_webhook_handled(leads_api):
    from app.client import on_call_ended, push_lead, wait_for_lead

    lead_id = push_lead(leads_api.base_url, "app-key", "+12015550124", 1, mock_outcome="completed")
    leads_api.advance(3600)
    seen = {}
    for payload in leads_api.webhooks.wait(1):
        on_call_ended(payload, seen)
    assert seen == {lead_id: ("completed", "completed")}
    assert wait_for_lead(leads_api.base_url, "app-key", lead_id, status="completed")
    assert leads_api.deliveries()[0]["delivered"]


def test_each_test_starts_clean(leads_api):  # the lead pushed before is forgotten
    assert leads_api.requests() == []
    assert len(all_leads(leads_api.base_url, "app-key", per_page=100)) == 12
"""


def uv() -> str:
    found = shutil.which("uv") or ROOT / ".cache" / "uv-bootstrap" / "bin" / "uv"
    assert Path(found).exists(), "uv: scripts/test puts it in .cache/uv-bootstrap"
    return str(found)


def run(
    *command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, capture_output=True, text=True,
        timeout=600, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module")
def downstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A separate project: leads-proxy from its wheel, httpx and pytest, a toy client."""
    root = tmp_path_factory.mktemp("downstream")
    built = run(uv(), "build", "--wheel", "--out-dir", root / "dist")
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("leads_proxy-*.whl")
    # The versions leads-proxy is locked to, so the install comes from uv's cache.
    pins = run(uv(), "export", "--frozen", "--no-hashes", "--no-emit-project", "--all-groups")
    assert pins.returncode == 0, pins.stderr
    (root / "pins.txt").write_text(pins.stdout)
    made = run(uv(), "venv", root / "venv", "--python", sys.executable)
    assert made.returncode == 0, made.stderr
    python = root / "venv" / "bin" / "python"
    installed = run(uv(), "pip", "install", "--python", python, "-c", root / "pins.txt",
                    wheel, "httpx", "pytest")  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    project = root / "app-under-test"
    (project / "tests").mkdir(parents=True)
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text("")
    (project / "app" / "client.py").write_text(CLIENT)
    (project / "tests" / "test_client.py").write_text(TESTS)
    (project / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    return project


# Proxies that lead nowhere (a closed port): a request through one fails at once.
NOWHERE = dict.fromkeys(("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"), "http://127.0.0.1:9")


def pytest_of(downstream: Path, runner: str) -> list[str | Path]:
    """`python -m pytest` (the project's folder on sys.path first) or the `pytest` script."""
    venv = downstream.parent / "venv" / "bin"
    return [venv / "python", "-m", "pytest"] if runner == "module" else [venv / "pytest"]


@pytest.mark.parametrize("runner", ["module", "script"])
def test_plugin__a_downstream_project_with_its_own_app_package_passes_with_only_the_fixture(
    downstream: Path, runner: str
) -> None:
    done = run(*pytest_of(downstream, runner), "-q", "-p", "no:cacheprovider", "--durations=0",
               cwd=downstream, env=NOWHERE)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout


def test_plugin__a_broken_client_fails_with_a_readable_assertion(downstream: Path) -> None:
    broken = downstream.parent / "broken"
    shutil.copytree(downstream, broken)
    client = (broken / "app" / "client.py").read_text()
    # It forgets the key: the mock answers 401 as the real API does.
    (broken / "app" / "client.py").write_text(client.replace("if key else {}", "if None else {}"))
    python = downstream.parent / "venv" / "bin" / "python"
    done = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=broken)
    assert done.returncode == 1, done.stdout
    assert "401 Unauthorized" in done.stdout
    assert "FAILED tests/test_client.py::test_walks_every_page" in done.stdout
    assert "Traceback" not in done.stdout.split("short test summary")[-1]
