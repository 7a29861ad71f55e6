"""An upstream that means harm: a real HTTP/1.1 server on loopback, scripted per request.

A test gives it a function from the request asked (`Asked`) to the answer
(`Hostile`): any status and headers, any bytes as the body (a gzip bomb, JSON
that never closes, pages that never end), sent at once or dripped a byte at a
time. It counts every request, in a thread of the test process, with one
thread per connection; a connection is kept alive as a real server's is.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import BinaryIO
from urllib.parse import parse_qsl, urlsplit

MIB = 1024 * 1024


@dataclass(frozen=True)
class Asked:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Hostile:
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    drip: float = 0.0  # seconds between the body's bytes; 0: all at once


Script = Callable[[Asked], Hostile]


class HostileUpstream:
    """Serves `script` on a free loopback port until `stop()`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.asked: list[Asked] = []
        self._lock = threading.Lock()
        upstream = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                upstream._serve(self.connection)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def count(self) -> int:
        with self._lock:
            return len(self.asked)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, sock: socket.socket) -> None:
        reader = sock.makefile("rb")
        try:
            while (asked := _read(reader)) is not None:
                with self._lock:
                    self.asked.append(asked)
                _send(sock, self.script(asked))
        except OSError:
            return  # the client went away
        finally:
            reader.close()


def _send(sock: socket.socket, answer: Hostile) -> None:
    head = [f"HTTP/1.1 {answer.status} Hostile", f"Content-Length: {len(answer.body)}"]
    head += [f"{name}: {value}" for name, value in answer.headers]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
    if not answer.drip:
        sock.sendall(answer.body)
        return
    for byte in answer.body:
        time.sleep(answer.drip)
        sock.sendall(bytes([byte]))


def _read(reader: BinaryIO) -> Asked | None:
    """One request head (a GET has no body to read), or None at the end of the connection."""
    line = reader.readline(65536)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = {}
    while (header := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = urlsplit(target)
    return Asked(method, parts.path, dict(parse_qsl(parts.query)), headers)


# --- bombs: a few hundred KB that decode to hundreds of MiB --------------------------------


@cache
def bomb(
    decoded: int, *, wbits: int = 16 + zlib.MAX_WBITS, prefix: bytes = b'{"data": []}'
) -> bytes:
    """`prefix` and then spaces, `decoded` bytes in all, compressed as one stream (gzip by
    default; `zlib.MAX_WBITS` for HTTP's deflate): valid JSON, once wholly decoded."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = [packer.compress(prefix)]
    spaces = b" " * MIB
    for _ in range((decoded - len(prefix)) // MIB):
        out.append(packer.compress(spaces))
    return b"".join([*out, packer.flush()])


def two_members(body: bytes) -> bytes:
    """`body` as two gzip members, as RFC 1952 allows (and `cat a.gz b.gz` makes)."""
    half = len(body) // 2
    return gzip.compress(body[:half]) + gzip.compress(body[half:])
