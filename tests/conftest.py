from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.fake_upstream import FakeUpstream
from tests.support import ROOT, Launch, Server, start_server

HTTP_SERVERS = ("uvicorn", "granian")  # `serve --server`
# The e2e modules whose tests also run under granian by default: the HTTP surface, the
# views and their exposure, both modes, logs and the journal, workers. Every e2e test
# that starts a server runs under granian with `pytest --granian-everywhere` (it about
# doubles the suite's time: each test starts its own servers).
UNDER_GRANIAN = frozenset(
    {"test_servers", "test_surface", "test_hosts", "test_exposure", "test_mock_server",
     "test_proxy", "test_journal", "test_json_logs", "test_access", "test_page_urls",
     "test_ready_answers", "test_compression", "test_writes"}
)  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--granian-everywhere",
        action="store_true",
        help="run every e2e test that starts a server under granian too, not only "
        "the modules in conftest.UNDER_GRANIAN",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "uvicorn_only(why): a behaviour of leads-proxy's own protocol under uvicorn, which "
        "granian's HTTP core does differently (why: what granian does); skipped under granian",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked uvicorn_only is skipped under granian, saying what granian does;
    outside UNDER_GRANIAN, granian's half is left out unless --granian-everywhere."""
    everywhere, kept, left = config.getoption("--granian-everywhere"), [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        under = None if callspec is None else callspec.params.get("http_server")
        module = item.path.stem
        if under == "granian" and not everywhere and module not in UNDER_GRANIAN:
            left.append(item)
            continue
        kept.append(item)
        marked = item.get_closest_marker("uvicorn_only")
        if marked is not None and under == "granian":
            item.add_marker(pytest.mark.skip(reason=f"granian: {marked.args[0]}"))
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session", params=HTTP_SERVERS)
def http_server(request: pytest.FixtureRequest) -> str:
    """The HTTP server under every leads-proxy a test starts through `server` or `launch`."""
    server: str = request.param
    return server


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
def server(tmp_path_factory: pytest.TempPathFactory, http_server: str) -> Iterator[Server]:
    """One leads-proxy in mock mode on the bundled fixtures, shared by read-only tests."""
    running = start_server(tmp_path_factory.mktemp("server"), http_server=http_server)
    yield running
    running.stop()


@pytest.fixture
def launch(tmp_path: Path, http_server: str) -> Iterator[Launch]:
    """Start `leads-proxy serve ARGS` as a user does, on a free port; stopped after the test.

    Keywords go to `tests.support.start_server` (env, command, wrapper, http_server).
    """
    started: list[Server] = []

    def start(*args: str, **options: Any) -> Server:
        options.setdefault("http_server", http_server)
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
