"""--log-format json through real servers: every line one JSON object with stable
fields, the same secrecy as the text lines."""

from __future__ import annotations

import json

import pytest

from tests.fake_upstream import FakeUpstream
from tests.support import Launch, clean_env

KEY = "5|json-log-secret-key-0005"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.mark.parametrize("mode", ["mock", "proxy"])
def test_json_logs__every_line_is_an_object_with_stable_fields(
    launch: Launch, upstream: FakeUpstream, mode: str, http_server: str
) -> None:
    args = ["--mode", mode, "--log-format", "json"]
    if mode == "proxy":
        args += ["--upstream-url", upstream.url]
    server = launch(*args, env=clean_env())
    server.client.get("/api/user/leads?phone_number=%2B971501234567", headers=AUTH)
    server.client.get("/api/user/leads", headers=AUTH)
    server.client.get("/api/user/nope", headers=AUTH)
    server.stop()  # the buffered lines are written at exit
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"ts", "level", "event"} <= set(line) for line in lines)
    requests = [line for line in lines if line["event"] == "request"]
    listing = [line for line in requests if line["path"] == "/api/user/leads"]
    assert [line["status"] for line in listing] == [200, 200]
    first = listing[0]
    fields = {"method", "path", "query", "status", "cache", "key", "upstream_ms", "ms", "client"}
    assert fields <= set(first)
    assert first["query"] == "phone_number=+**********67"  # as the journal shows it
    assert first["cache"] == ("emulated" if mode == "mock" else "miss")
    assert (first["upstream_ms"] is not None) is (mode == "proxy")
    other = 404 if mode == "mock" else 200  # proxy mode forwards it; the fake answers
    assert any(line["path"] == "/api/user/nope" and line["status"] == other for line in requests)
    # The server's own lines too: "Uvicorn running on ...", granian's "Listening at: ...".
    started = {"uvicorn": "Uvicorn running", "granian": "Listening at"}[http_server]
    assert any(line["event"].startswith(started) for line in lines)
    assert KEY not in server.log()
    assert "json-log-secret" not in server.log()
