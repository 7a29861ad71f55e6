"""What a browser meets, in a real one (headless Chromium): the docs pages offline,
and a page on another origin calling the mock with a bearer token and `Prefer`."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route

from tests.support import Launch, Server

LOOPBACK = {"127.0.0.1", "localhost"}


class OffServer:
    """Every request a page makes; any that would leave the loopback is stopped."""

    def __init__(self, page: Page) -> None:
        self.seen: list[str] = []
        self.stopped: list[str] = []
        page.on("request", self._seen)
        page.route("**/*", self._route)

    def _seen(self, request: Request) -> None:
        self.seen.append(request.url)

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.stopped.append(route.request.url)
            route.abort()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def test_docs__swagger_ui_renders_the_leads_operation_offline(
    server: Server, page: Page, screenshot: Path
) -> None:
    requests = OffServer(page)
    page.goto(f"{server.url}/docs")
    operation = page.locator(".opblock-summary-path", has_text="/api/user/leads").first
    operation.wait_for(timeout=15_000)
    page.screenshot(path=screenshot, full_page=True)
    assert requests.stopped == []
    assert all(urlsplit(url).hostname in LOOPBACK for url in requests.seen)
    assert any(url.endswith("/openapi.json") for url in requests.seen)
    assert page.locator(".opblock-get").count() >= 1
    assert "List leads" in page.content()


@pytest.mark.parametrize("path", ["/docs", "/docs/assets/swagger-ui.css"])
def test_docs__the_pages_and_their_styles_name_no_other_host(server: Server, path: str) -> None:
    text = server.client.get(path).text
    referenced = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)|url\(\s*["']?([^"')]+)""", text)
    urls = [next(part for part in found if part) for found in referenced]
    off_server = [url for url in urls if re.match(r"(https?:)?//", url)]
    assert off_server == []


PAGE = """<!doctype html>
<meta charset="utf-8">
<pre id="out">waiting</pre>
<script>
async function call() {
  const out = document.getElementById("out");
  try {
    const response = await fetch(%(url)r, {
      headers: {"Authorization": "Bearer 1|browser-key", "Prefer": "example=documented"},
    });
    const leads = await response.json();
    out.textContent = JSON.stringify({
      status: response.status,
      etag: response.headers.get("ETag"),
      applied: response.headers.get("Preference-Applied"),
      leads: leads.length,
    });
  } catch (error) {
    out.textContent = JSON.stringify({error: String(error)});
  }
}
call();
</script>
"""


@pytest.fixture
def other_origin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static web server on another loopback port: (its origin, its folder)."""
    folder = tmp_path / "site"
    folder.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    httpd.shutdown()
    httpd.server_close()


def call_from(page: Page, origin: str, folder: Path, target: Server) -> dict[str, object]:
    # A file per target: the browser may keep an earlier page of the same name.
    name = f"app-{target.port}.html"
    (folder / name).write_text(PAGE % {"url": f"{target.url}/api/user/leads"})
    page.goto(f"{origin}/{name}")
    page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    result: dict[str, object] = json.loads(page.text_content("#out") or "{}")
    return result


def test_cors__a_page_on_another_origin_calls_the_mock_and_reads_etag(
    server: Server, page: Page, other_origin: tuple[str, Path]
) -> None:
    origin, folder = other_origin
    result = call_from(page, origin, folder, server)
    expected = server.client.get(
        "/api/user/leads",
        headers={"Authorization": "Bearer x", "Prefer": "example=documented"},
    )
    assert result == {
        "status": 200,
        "etag": expected.headers["etag"],
        "applied": "example=documented",
        "leads": len(expected.json()),
    }


def test_cors__a_page_from_an_origin_not_listed_is_refused_by_the_browser(
    launch: Launch, page: Page, other_origin: tuple[str, Path]
) -> None:
    origin, folder = other_origin
    mock = launch("--cors-origins", "http://127.0.0.1:1")  # some other origin
    result = call_from(page, origin, folder, mock)
    assert "error" in result
    assert "Failed to fetch" in str(result["error"])

    listed = launch("--cors-origins", origin)
    assert call_from(page, origin, folder, listed)["status"] == 200


VIEWS_PAGE = """<!doctype html>
<meta charset="utf-8">
<pre id="out">waiting</pre>
<script>
async function tryIt(url, options) {
  try { const r = await fetch(url, options); return r.status; }
  catch (error) { return String(error); }
}
(async () => {
  const base = %(base)r;
  const out = {
    api: await tryIt(base + "/api/user/leads", {headers: {"Authorization": "Bearer 1|k"}}),
    journal: await tryIt(base + "/_proxy/requests"),
    status: await tryIt(base + "/_proxy/status"),
    scenario: await tryIt(base + "/_proxy/scenario", {method: "PUT",
      headers: {"Content-Type": "application/json"}, body: '{"prefer": "code=503"}'}),
  };
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script>
"""


def test_cors__a_page_on_another_origin_reads_the_api_but_not_the_views(
    server: Server, page: Page, other_origin: tuple[str, Path]
) -> None:
    origin, folder = other_origin
    name = f"views-{server.port}.html"
    (folder / name).write_text(VIEWS_PAGE % {"base": server.url})
    page.goto(f"{origin}/{name}")
    page.wait_for_function("document.getElementById('out').textContent !== 'waiting'")
    result = json.loads(page.text_content("#out") or "{}")
    assert result["api"] == 200  # mock mode's CORS: any origin, on the API
    for view in ("journal", "status", "scenario"):
        assert "Failed to fetch" in str(result[view]), (view, result)
    assert (
        server.client.get("/api/user/leads", headers={"Authorization": "Bearer x"}).status_code
        == 200
    )
