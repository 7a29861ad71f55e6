"""The live status page in a real browser (headless Chromium), opened while load runs:
the charts are drawn, the numbers it shows are /_proxy/stats', the journal's rows
appear; and the per-second history behind the charts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.fake_upstream import FakeUpstream
from tests.support import Launch, Server, clean_env, key_header

KEYS = [key_header(f"{n}|status-page-key-{n}") for n in range(3)]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    yield context.new_page()
    context.close()


def load(server: Server, stop: threading.Event) -> int:
    """Requests from several keys and queries until stopped; how many were sent."""
    sent = 0
    with httpx.Client(base_url=server.url, timeout=30) as http:
        while not stop.is_set():
            http.get(f"/api/user/leads?per_page={1 + sent % 4}", headers=KEYS[sent % 3])
            sent += 1
            time.sleep(0.002)
    return sent


def test_status_page__live_under_load_shows_what_stats_says(
    launch: Launch, upstream: FakeUpstream, page: Page, screenshot: Path
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url, "--ttl", "1",
                   env=clean_env())  # fmt: skip
    stop = threading.Event()
    sent: list[int] = []
    worker = threading.Thread(target=lambda: sent.append(load(proxy, stop)))
    worker.start()
    try:
        off_server: list[str] = []
        page.on("request", lambda r: off_server.append(r.url)
                if urlsplit(r.url).hostname != "127.0.0.1" else None)  # fmt: skip
        page.goto(f"{proxy.url}/_proxy/")
        for chart in ("requests", "upstream", "ratio", "latency"):
            page.wait_for_selector(f"#chart-{chart}[data-ready=true]", timeout=15_000)
        page.wait_for_function("Number(document.body.dataset.rendered) >= 3", timeout=15_000)
        drawn = page.locator("#chart-requests path").count()
        assert drawn == 4  # hit, stale, miss, bypass
        assert page.locator("#journal tr").count() > 10
    finally:
        stop.set()
        worker.join()
    stats = proxy.client.get("/_proxy/stats").json()  # load has stopped: these stand still

    def shows(name: str) -> str:
        return page.text_content(f"#counter-{name}") or ""

    page.wait_for_function(
        f"document.getElementById('counter-requests').textContent === '{stats['requests']}'",
        timeout=10_000,
    )
    for name in ("requests", "hits", "misses", "stale_served", "upstream_requests"):
        assert shows(name) == str(stats[name]), name
    assert page.text_content("#cache-entries") == str(stats["entries"])
    assert stats["requests"] >= sent[0]
    rows = page.locator("#journal tr").all_inner_texts()
    assert any("/api/user/leads" in row and "per_page=" in row for row in rows)
    assert page.text_content("#mode") == "proxy"
    page.screenshot(path=screenshot, full_page=True)
    assert off_server == []


def test_status__history_counts_each_second_and_survives_a_late_page(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url, env=clean_env())
    for key in KEYS:
        proxy.client.get("/api/user/leads", headers=key)  # 3 misses
        proxy.client.get("/api/user/leads", headers=key)  # 3 hits
    status = proxy.client.get("/_proxy/status").json()
    history = status["history"]
    assert len(history["hit"]) == 900
    assert (sum(history["hit"]), sum(history["miss"]), sum(history["upstream"])) == (3, 3, 3)
    assert any(value is not None for value in history["upstream_p50_ms"])
    assert status["cache"]["entries"] == 3
    assert status["cache"]["max_entries"] == 10_000


def test_status__mock_mode_counts_its_answers(launch: Launch) -> None:
    mock = launch()
    for _ in range(5):
        mock.client.get("/api/user/leads", headers=KEYS[0])
    status = mock.client.get("/_proxy/status").json()
    assert sum(status["history"]["mock"]) == 5
    assert status["mode"] == "mock"
    assert len(status["requests"]) == 5
