"""The OpenAPI document says exactly what is served: schemathesis (every check, every
phase) against a real server in mock mode, and in proxy mode with the test upstream
behind it; the same bytes at every start; the document's claims read directly."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, BUNDLED, ROOT, Launch, Server

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
DEFAULT = json.loads((BUNDLED / "leads" / "default.json").read_text())
TOP_ID = max(  # the bundled leads' ids and their contacts': a create's are above
    [lead["id"] for lead in DEFAULT]
    + [contact["id"] for lead in DEFAULT for contact in lead["secondary_contacts"]]
)
CONFIG = ROOT / "tests" / "schemathesis" / "schemathesis.toml"


def schemathesis_finds_nothing(server: Server, config: Path) -> str:
    """Schemathesis, all its phases, on the server's document: no issue found (its output).

    One worker thread: with two, hypothesis compiles lambda sources on both at
    once and CPython 3.11 can die of "AST constructor recursion depth mismatch"
    (an interpreter bug, seen twice in a row in CI; nothing the server sent)."""
    run = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(config), "--no-color",
         "run", f"{server.url}/openapi.json", "--workers", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "No issues found" in run.stdout, run.stdout[-20_000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout or f"✅  {phase}" in run.stdout, run.stdout
    return run.stdout


@pytest.mark.timeout(600)  # about a minute alone; the suite's load may double it
def test_schemathesis__finds_nothing_in_mock_mode_writes_included(launch: Launch) -> None:
    # A server of its own: the writes change its key's listing, which others read.
    mock = launch("--journal-size", "100000")
    schemathesis_finds_nothing(mock, CONFIG)
    journal = mock.client.get("/_proxy/requests", params={"limit": 100_000}).json()
    done = [(seen["method"], seen["path"]) for seen in journal["requests"] if seen["status"] == 200]
    assert ("POST", "/api/user/lead") in done, "no create succeeded"
    # The stateful phase followed the create's links: a lead only a create made (an id
    # above the fixtures') was changed, and one was deleted.
    made = {
        method
        for method, path in done
        if path.startswith("/api/user/leads/") and int(path.rsplit("/", 1)[1]) > TOP_ID
    }
    assert made == {"PUT", "DELETE"}, sorted(set(done))


def test_document__types_and_ranges_are_those_the_server_checks(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    operation = document["paths"]["/api/user/leads"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    per_page = parameters["per_page"]["schema"]["anyOf"][0]
    assert per_page == {"type": "integer", "minimum": 1, "maximum": 100}
    assert parameters["page"]["schema"]["anyOf"][0]["minimum"] == 1
    assert parameters["campaign_id"]["schema"]["anyOf"][0]["type"] == "integer"
    assert parameters["date_from"]["schema"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert "pattern" in parameters["Prefer"]["schema"]
    assert set(operation["responses"]) >= {
        "200", "304", "400", "401", "404", "414", "422", "429", "500", "503"
    }  # fmt: skip
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    lead = document["components"]["schemas"]["Lead"]["properties"]
    assert lead["phone_number"]["pattern"] == r"^\+[1-9][0-9]{6,14}$"
    assert lead["created_at"]["pattern"].startswith("^[0-9]{4}-")
    # What the document calls invalid, the server refuses; what it allows, it serves.
    auth = {"Authorization": "Bearer 1|doc-key"}
    assert server.client.get("/api/user/leads?per_page=abc", headers=auth).status_code == 422
    assert server.client.get("/api/user/leads?per_page=&nope=1", headers=auth).status_code == 200


# --- proxy mode's document ----------------------------------------------------------

PROXY_CONFIG = ROOT / "tests" / "schemathesis" / "proxy.toml"
ADMIN = "1|schemathesis-key"  # the key proxy.toml sends, also the admin token here


def start_proxy(launch: Launch, upstream: FakeUpstream, *args: str) -> Server:
    return launch("--mode", "proxy", "--upstream-url", upstream.url, *args)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_schemathesis__finds_nothing_in_proxy_mode(launch: Launch, upstream: FakeUpstream) -> None:
    proxy = start_proxy(launch, upstream, "--admin-token", ADMIN)
    schemathesis_finds_nothing(proxy, PROXY_CONFIG)
    assert upstream.count() > 0  # the listing reached the test upstream
    assert any(seen.path != "/api/user/leads" for seen in upstream.seen)  # and the rest


@pytest.mark.parametrize("mode", ["proxy", "mock"])
def test_document__byte_identical_across_restarts_with_one_id_per_operation(
    launch: Launch, upstream: FakeUpstream, mode: str
) -> None:
    args = ("--mode", "proxy", "--upstream-url", upstream.url) if mode == "proxy" else ()
    first, second = launch(*args), launch(*args)
    document = first.client.get("/openapi.json").content
    assert second.client.get("/openapi.json").content == document
    ids = [operation["operationId"] for _, _, operation in operations(json.loads(document))]
    assert len(ids) == len(set(ids)), sorted(ids)


def test_document__proxy_mode_passes_listing_values_on_for_the_upstream_to_check(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = start_proxy(launch, upstream)
    operation = proxy.client.get("/openapi.json").json()["paths"]["/api/user/leads"]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
    assert all(schema == {"type": "string"} for schema in schemas.values()), schemas
    assert "upstream" in operation["parameters"][0]["description"]
    answer = proxy.client.get("/api/user/leads?page=%C2%84&per_page=abc", headers=AUTH)
    assert answer.status_code == 200, answer.text  # the test upstream does not validate
    assert upstream.seen[-1].query == "page=%C2%84&per_page=abc"


def declared(server: Server, method: str, path: str) -> dict[str, Any]:
    item = server.client.get("/openapi.json").json()["paths"][path]
    responses: dict[str, Any] = item[method]["responses"]
    return responses


def test_document__declares_the_refusals_proxy_mode_sends(
    launch: Launch, upstream: FakeUpstream
) -> None:
    proxy = start_proxy(launch, upstream)
    purge = proxy.client.delete("/_proxy/cache")
    assert purge.status_code == 403
    assert "403" in declared(proxy, "delete", "/_proxy/cache")
    refused = proxy.client.put("/api/user/leads/%01", headers=AUTH)
    assert refused.status_code == 400
    assert "message" in refused.json()
    assert "400" in declared(proxy, "put", "/api/user/leads/{id}")
    with upstream.behaving(other_status=404):
        missing = proxy.client.delete("/api/user/leads/9", headers=AUTH)
    assert missing.status_code == 404
    assert "404" in declared(proxy, "delete", "/api/user/leads/{id}")


@pytest.mark.parametrize("mode", ["proxy", "mock"])
@pytest.mark.uvicorn_only(
    "the 431 for a head over its buffer is granian's own, with an empty body, not the "
    "ErrorBody the document declares"
)
def test_document__declares_the_server_wide_answers_on_every_operation(
    launch: Launch, upstream: FakeUpstream, mode: str
) -> None:
    args = ("--mode", "proxy", "--upstream-url", upstream.url) if mode == "proxy" else ()
    server = launch(*args)
    document = server.client.get("/openapi.json").json()
    for method, path, operation in operations(document):
        for status in ("431", "503"):
            answer = operation["responses"].get(status)
            assert answer is not None, (method, path, status)
            schema = answer["content"]["application/json"]["schema"]
            assert "ErrorBody" in json.dumps(schema), (method, path, status)
    assert head_too_large(server).startswith(b"HTTP/1.1 431 ")


def head_too_large(server: Server) -> bytes:
    """The answer to a request head over --max-header-bytes, sent in 16 KB writes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /_proxy/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        header = b"X-Big: " + b"x" * 80_000 + b"\r\n\r\n"
        with contextlib.suppress(OSError):  # the server may close before all is sent
            for start in range(0, len(header), 16_384):
                sock.sendall(header[start : start + 16_384])
        answer = b""
        while chunk := sock.recv(65_536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), answer
    assert "message" in json.loads(body)
    return answer
