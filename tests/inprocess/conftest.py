from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from leads_proxy.settings.declarations import ENV_PREFIX
from tests.fakes import Script
from tests.inprocess.support import Proxy, StartProxy


@pytest.fixture
def start_proxy(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[StartProxy]:
    """Build proxy mode in this process on `Script(...)`; settings as keywords (`ttl=10`).

    After the test, no log record carries a traceback: every answer was meant.
    """
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)  # what a developer set must not change these tests
    started: list[Proxy] = []

    def start(script: Script, **settings: Any) -> Proxy:
        proxy = Proxy.start(script, **settings)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
    logged = caplog.get_records("call")
    assert not [record.getMessage() for record in logged if record.exc_info]
