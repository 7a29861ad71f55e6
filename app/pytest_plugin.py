"""A pytest plugin for apps that call the Sondos leads API: the `leads_api` fixture.

Installing leads-proxy registers it (a `pytest11` entry point). A test that
asks for `leads_api` gets a leads-proxy in mock mode on a free loopback port,
started once per session (on the bundled fixtures, or the folder named by the
`leads_api_fixtures` ini option or the LEADS_API_FIXTURES env var) and reset
before each test:

    def test_lists_every_lead(leads_api):
        client = MyClient(base_url=leads_api.base_url, key="test-key")
        assert len(client.all_leads()) == 12
        (asked,) = leads_api.requests(path="/api/user/leads")
        assert asked["query"] == "status=completed"

The server checks the bearer token as the real API does (401 without one).
It also calls the leads a test creates, on a simulated clock that stands still
until the test moves it, and sends each call's webhook to a receiver of its own:

    def test_a_lead_is_called(leads_api):
        lead = MyClient(leads_api.base_url, "k").create(phone="+971501234567", campaign=1)
        leads_api.advance(3600)                          # an hour of calls, played at once
        (hook,) = leads_api.webhooks.wait(1)             # what the app's endpoint is sent
        assert hook["lead"]["id"] == lead["id"]

(`mock_outcome` in a lead's variables forces how its calls end: completed, busy,
failed or no-answer.) The receiver keeps every JSON body it answered with 2xx;
a test hands them to the app's own webhook handler, or makes the receiver
misbehave (`leads_api.webhooks.answer(500)`) to see the retries.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .receiver import WebhookReceiver

START_TIMEOUT = 60.0


class LeadsApi:
    """A running mock leads API, and what a test does with it."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log: Path,
        webhooks: WebhookReceiver | None = None,
    ) -> None:
        self.process = process
        self.webhooks = webhooks or WebhookReceiver()  # where each call's webhook is sent
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = f"{self.url}/api"  # what the app's settings take, as for the real API
        # Its own loopback server: never through HTTP_PROXY and the like.
        self._client = httpx.Client(base_url=self.url, timeout=30, trust_env=False)
        self._scenario: dict[str, Any] = {}  # what PUT /_proxy/scenario last set

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """What was asked since the test began, newest first: method, path, query (phone
        numbers masked), key (a fingerprint), status, cache, source, prefer, ms...
        Filters as GET /_proxy/requests takes them: path, status, key, since, limit."""
        answer = self._client.get("/_proxy/requests", params=filters)
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()["requests"]
        return found

    def scenario(
        self,
        *,
        example: str | None = None,
        code: int | None = None,
        delay_ms: int | None = None,
        dynamic: bool = False,
        count: int | None = None,
        seed: int | None = None,
    ) -> None:
        """Answer the next requests (those without a Prefer header) with this scenario."""
        parts = [f"example={example}"] if example else []
        parts += [f"code={code}"] if code is not None else []
        parts += [f"delay={delay_ms}"] if delay_ms is not None else []
        parts += ["dynamic=true"] if dynamic else []
        parts += [f"count={count}"] if count is not None else []
        parts += [f"seed={seed}"] if seed is not None else []
        self._put({"prefer": ", ".join(parts) or None})

    def rate_limit(self, per_minute: int) -> None:
        """Answer as the real API's throttle: past `per_minute` requests of a key, 429s."""
        self._put({"rate_limit": per_minute})

    def reset(self) -> None:
        """Plain answers again, every key's writes and calls forgotten (each lists the
        fixtures again), the clock at the real time, no webhooks and an empty journal
        (done before every test)."""
        self._client.delete("/_proxy/scenario").raise_for_status()
        self.forget_writes()
        self._client.delete("/_proxy/clock").raise_for_status()
        self._client.delete("/_proxy/requests").raise_for_status()
        self.webhooks.clear()
        self._scenario = {}

    def advance(self, seconds: float) -> str:
        """Move the simulated clock on, playing every call due meanwhile (the listing
        shows them when this returns; their webhooks follow); the new time, ISO-8601."""
        answer = self._client.post("/_proxy/clock", json={"advance": seconds})
        if answer.status_code != 200:
            raise ValueError(answer.json().get("message", answer.text))
        now: str = answer.json()["now"]
        return now

    def deliveries(self) -> list[dict[str, Any]]:
        """The webhooks sent, newest first: call_id, lead_id, attempts, delivered, ..."""
        answer = self._client.get("/_proxy/webhooks")
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()["webhooks"]
        return found

    def forget_writes(self, key: str | None = None) -> int:
        """Forget the leads created, updated and deleted since the server started, or
        reset: every key's, or only those of `key` (a fingerprint, as `requests()`
        shows). Says how many keys had written."""
        params = {"key": key} if key is not None else {}
        answer = self._client.delete("/_proxy/state", params=params)
        answer.raise_for_status()
        forgotten: int = answer.json()["forgotten"]["keys"]
        return forgotten

    def stop(self) -> None:
        self._client.close()
        self.webhooks.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _put(self, scenario: dict[str, Any]) -> None:
        current = {"prefer": None, "rate_limit": None, **self._scenario, **scenario}
        answer = self._client.put("/_proxy/scenario", json=current)
        if answer.status_code != 200:
            raise ValueError(answer.json().get("message", answer.text))
        self._scenario = current


def start(fixtures: Path | None, folder: Path) -> LeadsApi:
    """`leads-proxy serve` in mock mode on a free loopback port, once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = folder / f"leads-api-{port}.log"
    package = __package__ or "leads_proxy"
    command = [sys.executable, "-m", package, "serve", "--port", str(port), "--access-log", "off"]
    webhooks = WebhookReceiver()
    command += ["--mock-calls", "on", "--mock-calls-speed", "0"]
    command += ["--mock-webhook-url", webhooks.url, "--mock-webhook-timeout", "2"]
    if fixtures is not None:
        command += ["--fixtures", str(fixtures)]
    env = {name: value for name, value in os.environ.items() if not name.startswith("LEADS_PROXY_")}
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)  # noqa: S603
    api = LeadsApi(process, port, log, webhooks)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"leads-proxy did not start:\n{log.read_text()}")
        try:
            if httpx.get(f"{api.url}/_proxy/health", timeout=1, trust_env=False).status_code == 200:
                return api
        except httpx.TransportError:
            time.sleep(0.05)
    api.stop()
    raise RuntimeError(f"leads-proxy did not answer in {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "leads_api_fixtures",
        "fixtures folder for the leads_api fixture (default: leads-proxy's bundled ones)",
        default="",
    )


@pytest.fixture(scope="session")
def leads_api_server(pytestconfig: pytest.Config) -> Iterator[LeadsApi]:
    """The session's mock leads API (see `leads_api`)."""
    named = os.environ.get("LEADS_API_FIXTURES") or pytestconfig.getini("leads_api_fixtures")
    fixtures = (pytestconfig.rootpath / named) if named else None
    with tempfile.TemporaryDirectory(prefix="leads-api-") as folder:
        api = start(fixtures, Path(folder))
        yield api
        api.stop()


@pytest.fixture
def leads_api(leads_api_server: LeadsApi) -> LeadsApi:
    """A mock Sondos leads API: `base_url`, `scenario(...)`, `rate_limit(n)`, `requests(...)`,
    `advance(seconds)`, `webhooks` (the receiver: `wait(n)`, `payloads`), `deliveries()`."""
    leads_api_server.reset()
    return leads_api_server
