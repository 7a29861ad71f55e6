"""A client nobody here wrote: openapi-python-client generates one from the served
/openapi.json (offline, into tmp_path), and the tests use it as an app would: walk a
paginated listing by following `next_page_url`, and call the forwarded endpoints."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
LISTING = "/api/user/leads"
PAGE_URLS = ("first_page_url", "last_page_url", "next_page_url", "prev_page_url", "path")
TOKEN = AUTH["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def generate(tmp_path: Path) -> Iterator[Any]:
    """Generate a client package from a server's document and import it."""
    added: list[str] = []

    def make(server: Server, name: str) -> ModuleType:
        document = tmp_path / f"{name}.json"
        document.write_bytes(server.client.get("/openapi.json").content)
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"post_hooks": []}))  # no formatter: nothing to run
        run = subprocess.run(
            [GENERATOR, "generate", "--path", str(document), "--meta", "none",
             "--output-path", str(tmp_path / name), "--config", str(config),
             "--fail-on-warning"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        sys.path.insert(0, str(tmp_path))
        added.append(name)
        return importlib.import_module(name)

    yield make
    for name in added:
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]
    while str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def walk(client_package: ModuleType, server: Server, **first: str) -> list[dict[str, Any]]:
    """Every page of the listing, each asked for with the generated `list_leads`,
    the next one found by `next_page_url` (which must name this server)."""
    list_leads = importlib.import_module(f"{client_package.__name__}.api.leads.list_leads")
    page_model = importlib.import_module(f"{client_package.__name__}.models.leads_page")
    client = client_package.AuthenticatedClient(base_url=server.url, token=TOKEN)
    pages: list[dict[str, Any]] = []
    query: dict[str, str] | None = first
    with client:
        while query is not None:
            page = list_leads.sync(client=client, **query)
            assert isinstance(page, page_model.LeadsPage), page
            body: dict[str, Any] = page.to_dict()
            pages.append(body)
            urls = [body[name] for name in PAGE_URLS if isinstance(body.get(name), str)]
            urls += [link["url"] for link in body["links"] if link.get("url")]
            for url in urls:
                assert url.startswith(f"{server.url}{LISTING}"), url
            following = body["next_page_url"]
            query = dict(parse_qsl(urlsplit(following).query)) if following else None
    return pages


def test_generated_client__walks_proxy_pages_and_the_second_walk_is_cached(
    launch: Launch, upstream: FakeUpstream, generate: Any
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url)
    package = generate(proxy, "proxy_client")
    with upstream.behaving(listing=23):
        pages = walk(package, proxy, per_page="5")
        asked = upstream.count()
        again = walk(package, proxy, per_page="5")
    assert [page["current_page"] for page in pages] == [1, 2, 3, 4, 5]
    ids = [lead["id"] for page in pages for lead in page["data"]]
    assert len(ids) == len(set(ids)) == 23
    assert asked == 5
    assert upstream.count() == asked  # the second walk: every page from the cache
    assert again == pages


def test_generated_client__walks_mock_pages(launch: Launch, generate: Any) -> None:
    mock = launch()
    package = generate(mock, "mock_client")
    pages = walk(package, mock, per_page="5")
    assert [page["current_page"] for page in pages] == [1, 2, 3]
    ids = [lead["id"] for page in pages for lead in page["data"]]
    assert len(ids) == len(set(ids)) == pages[0]["total"]


def test_generated_client__forwarded_paths_arrive_as_the_upstream_knows_them(
    launch: Launch, upstream: FakeUpstream, generate: Any
) -> None:
    proxy = launch("--mode", "proxy", "--upstream-url", upstream.url)
    package = generate(proxy, "forward_client")
    api = f"{package.__name__}.api.forwarded"
    client = package.AuthenticatedClient(base_url=proxy.url, token=TOKEN)
    with client:
        me = importlib.import_module(f"{api}.get_user").sync_detailed(client=client)
        update = importlib.import_module(f"{api}.update_lead")
        updated = update.sync_detailed("17", client=client, body={"status": "completed"})
        delete = importlib.import_module(f"{api}.delete_lead")
        deleted = delete.sync_detailed("18", client=client)
    assert (me.status_code, updated.status_code, deleted.status_code) == (200, 200, 200)
    seen = [(s.method, s.path, s.body) for s in upstream.seen]
    assert seen == [
        ("GET", "/api/user/me", b""),
        ("PUT", "/api/user/leads/17", b'{"status":"completed"}'),
        ("DELETE", "/api/user/leads/18", b""),
    ]
    assert all(s.headers["authorization"] == AUTH["Authorization"] for s in upstream.seen)
