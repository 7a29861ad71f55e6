"""Access lines through a real server: buffered, yet none lost when it is stopped."""

from __future__ import annotations

import json
import re
import signal

from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, clean_env, eventually, shown_fingerprint

UVICORN_LINE = re.compile(r'INFO: {5}127\.0\.0\.1:\d+ - "GET (\S+) HTTP/1\.1" (\d{3}) \w')


def test_access__mock_lines_in_uvicorns_format_none_lost_on_sigterm(launch: Launch) -> None:
    server = launch()
    paths = ["/api/user/leads", "/api/user/leads?status=completed", "/_proxy/health", "/nope"]
    sent = [server.client.get(path, headers=AUTH) for path in paths * 50]
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    lines = [m.groups() for m in UVICORN_LINE.finditer(server.log())]
    # The health probe of start_server is logged too.
    assert lines[-len(sent) :] == [
        (path, str(response.status_code)) for path, response in zip(paths * 50, sent, strict=True)
    ]


def test_access__proxy_lines_written_within_a_second_and_on_sigterm(
    launch: Launch, upstream: FakeUpstream
) -> None:
    env = clean_env(LEADS_PROXY_MODE="proxy", LEADS_PROXY_UPSTREAM_URL=upstream.url)
    server = launch(env=env)
    server.client.get("/api/user/leads", headers=AUTH)
    eventually(lambda: "GET /api/user/leads 200 MISS" in server.log(), within=3)
    for _ in range(300):
        server.client.get("/api/user/leads", headers=AUTH)
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    assert server.log().count("GET /api/user/leads 200 HIT upstream=- key=") == 300


def test_access__a_head_is_logged_as_head_in_every_mode(
    launch: Launch, upstream: FakeUpstream
) -> None:
    mock = launch()
    proxy = launch(env=clean_env(LEADS_PROXY_MODE="proxy", LEADS_PROXY_UPSTREAM_URL=upstream.url))
    for server in (mock, proxy):
        server.client.get("/api/user/leads", headers=AUTH)
        assert server.client.head("/api/user/leads", headers=AUTH).status_code == 200
        assert server.client.head("/leads/", headers=AUTH).status_code == 200
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=15)
    assert '"HEAD /api/user/leads HTTP/1.1" 200' in mock.log()
    assert '"HEAD /leads/ HTTP/1.1" 200' in mock.log()
    assert "HEAD /api/user/leads 200 HIT upstream=- key=" in proxy.log()
    assert "HEAD /leads/ 200 HIT upstream=- key=" in proxy.log()
    assert "GET /api/user/leads 200 HIT" not in proxy.log()  # the HEAD hits are HEADs


def test_access__one_fingerprint_per_key_in_lines_journal_and_across_restarts(
    launch: Launch, upstream: FakeUpstream
) -> None:
    expected = shown_fingerprint(AUTH["Authorization"])
    env = clean_env(LEADS_PROXY_MODE="proxy", LEADS_PROXY_UPSTREAM_URL=upstream.url)
    seen = []
    for log_format in ("text", "json"):
        server = launch("--log-format", log_format, env=env)
        server.client.get("/api/user/leads", headers=AUTH)
        (entry,) = server.client.get("/_proxy/requests").json()["requests"]
        seen.append(entry["key"])
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=15)
        log = server.log()
        if log_format == "text":
            seen += re.findall(r"GET /api/user/leads 200 MISS upstream=\S+ key=(\w+)", log)
        else:
            lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
            seen += [line["key"] for line in lines if line.get("path") == "/api/user/leads"]
    assert seen == [expected] * 4
    assert AUTH["Authorization"].removeprefix("Bearer ") not in "".join(seen)
