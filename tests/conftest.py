from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.fake_upstream import FakeUpstream
from tests.support import ROOT, Launch, Server, start_server


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Servers the tests start keep their state here, never in the user's home."""
    folder = tmp_path_factory.mktemp("state")
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(folder)
    yield folder
    if before is None:
        del os.environ["XDG_STATE_HOME"]
    else:
        os.environ["XDG_STATE_HOME"] = before


CHROMIUM = Path("/usr/bin/chromium")  # Debian's, installed by scripts/test
SCREENSHOTS = ROOT / ".cache" / "screenshots"  # kept after the run, to look at


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One leads-proxy in mock mode on the bundled fixtures, shared by read-only tests."""
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start `leads-proxy serve ARGS` as a user does, on a free port; stopped after the test.

    Keywords go to `tests.support.start_server` (env, command, wrapper).
    """
    started: list[Server] = []

    def start(*args: str, **options: Any) -> Server:
        server = start_server(tmp_path, *args, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def fixtures_dir(tmp_path: Path) -> Path:
    """An empty fixtures directory with its leads/ folder, for a test to fill."""
    (tmp_path / "fixtures" / "leads").mkdir(parents=True)
    return tmp_path / "fixtures"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    """The fake Sondos API on a loopback port, counting what reaches it."""
    fake = FakeUpstream()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's package), driven through Playwright.

    Per module, not per session: Playwright's sync API holds an event loop open
    on this thread while it runs, and the tests after it need theirs.
    """
    assert CHROMIUM.exists(), "Chromium is missing: scripts/test installs it (apt: chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Path:
    """Where a test saves its screenshot: .cache/screenshots/<test name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{request.node.name}.png"
