"""`serve --server`: the choice refused at start where it cannot hold, and what both
servers share on the way out (every other e2e test runs under each: conftest)."""

from __future__ import annotations

import importlib.util
import signal
import threading

import httpx
import pytest

from leads_proxy.edge import serving
from leads_proxy.settings.declarations import Settings
from tests.support import AUTH, Launch, refused_at_start


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--header-timeout", "61"), "--header-timeout: granian waits at most 60 s"),
        (("--max-header-bytes", "8191"), "--max-header-bytes: granian reads a head into"),
        (("--server", "nginx"), "--server"),
    ],
)
def test_server__granian_s_ranges_are_refused_at_start(args: tuple[str, ...], said: str) -> None:
    server = ("--server", "granian") if args[0] != "--server" else ()
    assert said in refused_at_start(*server, *args)


def test_server__granian_missing_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda _name: None)
    said = serving.unavailable(Settings(server="granian"))
    assert said is not None
    assert "uv sync --extra granian" in said
    assert serving.unavailable(Settings()) is None


def test_server__a_stop_lets_an_answer_under_way_finish(launch: Launch) -> None:
    server = launch()
    got: list[httpx.Response] = []

    def slow() -> None:
        delayed = {**AUTH, "Prefer": "delay=1500"}
        got.append(httpx.get(f"{server.url}/leads", headers=delayed, timeout=10))

    asking = threading.Thread(target=slow)
    asking.start()
    # The request is under way once the journal has nothing to say yet and it waits.
    threading.Event().wait(0.5)
    server.process.send_signal(signal.SIGTERM)
    asking.join(timeout=10)
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)  # uvicorn: re-raised
    assert [answer.status_code for answer in got] == [200]
    assert "Traceback" not in server.log()
