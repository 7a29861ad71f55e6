"""A webhook receiver for tests: a real HTTP server on loopback that keeps what it is sent.

    receiver = WebhookReceiver()       # listening at receiver.url
    ...                                # point --mock-webhook-url at it
    (payload,) = receiver.wait(1)      # the JSON bodies POSTed, oldest first
    receiver.answer(500)               # misbehave: answer 500, or hang=seconds first
    receiver.close()

The `leads_api` pytest fixture starts one for its server; leads-proxy's own
tests use it too. A body is read only up to `MAX_BODY` bytes and must be JSON.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1024 * 1024


class WebhookReceiver:
    """Every JSON body POSTed to it, and how it answers (200 unless told otherwise)."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.attempts = 0  # POSTs seen, kept or not
        self.status = 200
        self.hang = 0.0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, status: int = 200, *, hang: float = 0.0) -> None:
        """Answer the next POSTs with `status`, after `hang` seconds."""
        self.status, self.hang = status, hang

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The payloads once there are at least `count` (AssertionError after `timeout` s)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.payloads) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = len(self.payloads)
                    raise AssertionError(f"{got} webhooks came in {timeout:g} s, not {count}")
                self._changed.wait(left)
            return list(self.payloads)

    def clear(self) -> None:
        with self._changed:
            self.payloads.clear()
            self.attempts = 0
        self.answer()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _got(self, body: bytes) -> tuple[int, float]:
        with self._changed:
            self.attempts += 1
            if self.status < 300:
                self.payloads.append(json.loads(body))
            self._changed.notify_all()
            return self.status, self.hang


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if not 0 <= length <= MAX_BODY:
                self.send_error(413)
                return
            try:
                status, hang = receiver._got(self.rfile.read(length))
            except ValueError:
                self.send_error(400, "not JSON")
                return
            if hang:
                time.sleep(hang)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: a test reads `payloads`, not a log."""

    return Handler
