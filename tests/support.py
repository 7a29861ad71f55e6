"""Helpers shared by the tests: a real leads-proxy process, and schema checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from leads_proxy.fixtures.schema import LEADS, LeadsPage
from leads_proxy.http.keys import fingerprint_of, use_secret

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "fixtures"
# The console script `uv sync` installs: what `scripts/serve` ends up running.
LEADS_PROXY = str(Path(sys.executable).parent / "leads-proxy")
AUTH = {"Authorization": "Bearer 1|test-key"}


def state_home() -> Path:
    """The state folders of the servers the tests start ($XDG_STATE_HOME, set by conftest)."""
    return Path(os.environ["XDG_STATE_HOME"])


def shown_fingerprint(authorization: str) -> str:
    """The fingerprint servers started by the tests show for a key: keyed by the secret
    the first of them made in the tests' state folder."""
    use_secret((state_home() / "leads-proxy" / "fingerprint.key").read_bytes())
    shown = fingerprint_of(authorization.encode())
    assert shown is not None
    return shown


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment less any LEADS_PROXY_* a developer may have set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADS_PROXY_")}
    env.update(extra)
    return env


@dataclass
class Server:
    """A leads-proxy process listening on a loopback port."""

    process: subprocess.Popen[str]
    port: int
    log_path: Path
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


Launch = Callable[..., "Server"]  # the `launch` fixture: start_server, stopped after the test


def start_server(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    command: Sequence[str] = (LEADS_PROXY, "serve"),
    wrapper: Sequence[str] = (),
    http_server: str = "uvicorn",
) -> Server:
    """Start leads-proxy as a user does, on a free port, under `http_server` (serve
    --server); wait until it answers."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    if http_server != "uvicorn" and tuple(command[-1:]) == ("serve",):
        args = ("--server", http_server, *args)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*wrapper, *command, "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env or clean_env(),
            text=True,
            cwd=ROOT,
        )
    server = Server(process, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}:\n{server.log()}")
        try:
            if server.client.get("/_proxy/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    raise AssertionError(f"server did not start:\n{server.log()}")


def eventually(condition: Callable[[], object], *, within: float = 10.0) -> None:
    """Poll `condition()` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    delay = 0.005
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def assert_valid_leads(body: Any) -> None:
    """The body is a documented answer: a bare array of leads, or a paginator."""
    if isinstance(body, list):
        LEADS.validate_python(body, strict=True)
    else:
        LeadsPage.model_validate(body, strict=True)


def key_header(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def refused_at_start(*args: str) -> str:
    """`leads-proxy serve ARGS` that must stop before it binds: its one line of stderr."""
    run = subprocess.run(
        [LEADS_PROXY, "serve", "--port", "0", *args],
        capture_output=True, text=True, timeout=60, env=clean_env(), check=False,
    )  # fmt: skip
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    return lines[0]
