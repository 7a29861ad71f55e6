"""Mock mode is fully offline: proven with strace on a real leads-proxy process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import AUTH, Server, start_server

STRACE = shutil.which("strace")
TRACED = "trace=connect,sendto,sendmsg,accept,accept4"

pytestmark = pytest.mark.skipif(
    STRACE is None, reason="strace is missing (scripts/test installs it with apt where it can)"
)


def outbound(trace: Path) -> list[str]:
    """Lines of a strace log where a process reached out over IPv4 or IPv6."""
    return [
        line
        for line in trace.read_text().splitlines()
        if ("AF_INET" in line) and any(call in line for call in ("connect(", "sendto(", "sendmsg("))
    ]


def stop_traced(server: Server) -> None:
    """Stop the server under strace; strace then exits and flushes its log."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for child in children:
        os.kill(int(child), signal.SIGTERM)
    server.process.wait(timeout=15)
    server.client.close()


def test_offline__the_detector_sees_an_outbound_connection(tmp_path: Path) -> None:
    # A control: the same strace filter on a process that does connect.
    trace = tmp_path / "control.trace"
    code = (
        "import socket, sys\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "socket.create_connection(s.getsockname()).close()\n"
    )
    subprocess.run(
        [
            STRACE or "strace",
            "-f",
            "-qq",
            "-e",
            TRACED,
            "-o",
            str(trace),
            sys.executable,
            "-c",
            code,
        ],
        check=True,
        timeout=60,
    )
    assert len(outbound(trace)) == 1


def test_offline__mock_mode_opens_no_outbound_connection(tmp_path: Path, http_server: str) -> None:
    trace = tmp_path / "server.trace"
    strace = [STRACE or "strace", "-f", "-qq", "-e", TRACED, "-o", str(trace)]
    server = start_server(tmp_path, wrapper=strace, http_server=http_server)
    try:
        requests = [
            ("/leads", {}),
            ("/api/user/leads?status=completed&per_page=2&page=2", {}),
            ("/leads", {"Prefer": "example=large"}),
            ("/leads", {"Prefer": "dynamic=true, count=50"}),
            ("/leads", {"Prefer": "code=503"}),
            ("/leads", {"Prefer": "delay=50"}),
            ("/openapi.json", {}),
            ("/docs", {}),
        ]
        for path, headers in requests:
            fresh = {**AUTH, **headers, "Connection": "close"}
            assert server.client.get(path, headers=fresh).status_code < 600
    finally:
        stop_traced(server)
    text = trace.read_text()
    # One accept per request: the trace did see the server at work.
    assert text.count("accept4(") >= len(requests)
    assert outbound(trace) == []
