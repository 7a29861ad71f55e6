"""A stand-in for the Sondos API: a real HTTP/1.1 server on loopback.

It runs in a thread of the test process, counts every request per API key,
and misbehaves on demand: slow, a status of choice, 429 with Retry-After, a
connection reset, a body that is not JSON, or no answer at all. It speaks raw
HTTP over asyncio streams, so that a reset is a real TCP reset.

The leads it answers name the key they are for (`variables.key_tag`, a hash of
the key) and how many times that key has asked (`variables.version`), so a
test can tell whose answer it got and whether it is a refreshed one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from leads_proxy.fixtures.generate import generate_leads

LEADS_PATH = "/api/user/leads"


def key_tag(authorization: str | None) -> str:
    return hashlib.sha256((authorization or "").encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


ENCODED_BODY = bytes(range(256)) * 4  # stands for a body in an encoding nobody here decodes


@dataclass
class Behaviour:
    mode: str = "ok"  # ok | status | ratelimit | reset | garbage | hang
    delay: float = 0.0  # seconds before answering, in any mode
    status: int = 503
    retry_after: str = "2"
    leads: int = 3
    other_status: int = 200  # for paths other than the leads listing
    body: bytes | None = None  # answer exactly this to the leads listing (mode ok)
    drip: float = 0.0  # mode ok: send the body one byte every `drip` seconds
    head_body: bool = False  # answer HEAD on other paths with a body, as no server should
    encoding: str | None = None  # other paths: answer these bytes, labelled with this encoding
    headers: tuple[tuple[str, str], ...] = ()  # sent with every answer
    # > 0: each key has a listing of this many leads (the same every time), filtered
    # by `status` and `campaign_id` and paginated like the parent platform's Laravel
    # when `page` or `per_page` is given; written as PHP's json_encode writes (\/).
    listing: int = 0
    # listing mode: the request with this number (1 = the first) gets one 429 with
    # `retry_after`, as a rate limit midway through a walk would
    throttle_at: int = 0


@dataclass
class FakeUpstream:
    behaviour: Behaviour = field(default_factory=Behaviour)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._listings: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.listen()

    # --- control -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def listen(self) -> None:
        """Accept connections (again, on the same port after `refuse`)."""
        self._server = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]

    def refuse(self) -> None:
        """Stop listening: new connections are refused."""
        if self._server is not None:
            server = self._server
            self._server = None

            async def close() -> None:
                server.close()
                for writer in list(self._writers):
                    writer.transport.abort()

            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def stop(self) -> None:
        """Stop serving and end the thread; calling it again does nothing."""
        if not self._thread.is_alive():
            return
        self.refuse()

        async def cancel_the_rest() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(cancel_the_rest(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @contextmanager
    def behaving(self, **changes: Any) -> Iterator[None]:
        before = self.behaviour
        self.behaviour = Behaviour(**{**before.__dict__, **changes})
        try:
            yield
        finally:
            self.behaviour = before

    def count(self, authorization: str | None = None, path: str = LEADS_PATH) -> int:
        with self._lock:
            return sum(
                1
                for seen in self.seen
                if seen.path == path
                and (authorization is None or seen.headers.get("authorization") == authorization)
            )

    # --- the server -------------------------------------------------------------

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(
            self._connection, "127.0.0.1", self.port, reuse_address=True
        )

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while request := await self._read(reader):
                if not await self._answer(request, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> Seen | None:
        line = await reader.readline()
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in {b"\r\n", b"\n", b""}:
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path, _, query = target.partition("?")
        seen = Seen(method, path, query, headers, body)
        with self._lock:
            self.seen.append(seen)
        return seen

    async def _answer(self, request: Seen, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must end."""
        behaviour = self.behaviour
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if request.path != LEADS_PATH:
            echo = {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "headers": request.headers,
                "body": request.body.decode(),
            }
            payload = json.dumps(echo).encode()
            if behaviour.encoding is not None:
                encoded = ENCODED_BODY
                await self._send(writer, 200, encoded, [("Content-Encoding", behaviour.encoding)])
            elif request.method == "HEAD" and not behaviour.head_body:
                await self._send(writer, behaviour.other_status, b"", length=len(payload))
            else:
                await self._send(writer, behaviour.other_status, payload)
            return True
        mode = behaviour.mode
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if mode == "status":
            body = json.dumps({"message": f"status {behaviour.status}"}).encode()
            await self._send(writer, behaviour.status, body)
        elif mode == "ratelimit":
            await self._send(
                writer,
                429,
                b'{"message":"Too Many Attempts."}',
                [("Retry-After", behaviour.retry_after), ("X-RateLimit-Remaining", "0")],
            )
        elif mode == "garbage":
            await self._send(writer, 200, b"<html>Bad gateway</html>")
        elif behaviour.listing:
            await self._send_listing(writer, request, behaviour)
        else:
            body = behaviour.body or self._leads(request, behaviour.leads)
            await self._send_ok(writer, body, behaviour.drip)
        return True

    async def _send_listing(
        self, writer: asyncio.StreamWriter, request: Seen, behaviour: Behaviour
    ) -> None:
        if self.count() == behaviour.throttle_at:
            headers = [("Retry-After", behaviour.retry_after)]
            await self._send(writer, 429, b'{"message":"Too Many Attempts."}', headers)
        else:
            await self._send(writer, 200, self._listing(request, behaviour.listing))

    def listing_of(self, authorization: str, size: int) -> list[dict[str, Any]]:
        """The whole listing a key has in `listing` mode."""
        seed = int(key_tag(authorization), 16)
        if (seed, size) not in self._listings:
            self._listings[seed, size] = generate_leads(size, seed=seed)
        return self._listings[seed, size]

    def _listing(self, request: Seen, size: int) -> bytes:
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        leads = [
            lead
            for lead in self.listing_of(request.headers.get("authorization", ""), size)
            if params.get("status") in (None, "", lead["status"])
            and params.get("campaign_id") in (None, "", str(lead["campaign_id"]))
        ]
        if "page" not in params and "per_page" not in params:
            data: Any = leads
        else:
            data = self._paginator(leads, params)
        return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode()

    def _paginator(self, leads: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        per_page = min(int(params.get("per_page") or 15), 100)
        page = max(int(params.get("page") or 1), 1)
        last = max(1, -(-len(leads) // per_page))
        kept = {name: value for name, value in params.items() if name != "page"}
        base = f"http://127.0.0.1:{self.port}/api/user/leads"

        def url(number: int) -> str:
            return f"{base}?{urlencode({**kept, 'page': number})}"

        chunk = leads[(page - 1) * per_page : page * per_page]
        first = (page - 1) * per_page + 1
        return {
            "current_page": page,
            "data": chunk,
            "first_page_url": url(1),
            "from": first if chunk else None,
            "last_page": last,
            "last_page_url": url(last),
            "links": [{"url": url(n), "label": str(n), "active": n == page}
                      for n in range(1, min(last, 10) + 1)],
            "next_page_url": url(page + 1) if page < last else None,
            "path": base,
            "per_page": per_page,
            "prev_page_url": url(page - 1) if page > 1 else None,
            "to": first + len(chunk) - 1 if chunk else None,
            "total": len(leads),
        }  # fmt: skip

    async def _send_ok(self, writer: asyncio.StreamWriter, body: bytes, drip: float) -> None:
        """A 200 with `body`, at once, or dripped a byte every `drip` seconds."""
        if not drip:
            await self._send(writer, 200, body)
            return
        await self._send(writer, 200, b"", length=len(body))
        for byte in body:
            await asyncio.sleep(drip)
            writer.write(bytes([byte]))
            await writer.drain()

    def _leads(self, request: Seen, count: int) -> bytes:
        authorization = request.headers.get("authorization")
        version = self.count(authorization)
        leads = generate_leads(count, seed=version)
        for lead in leads:
            lead["variables"].update(key_tag=key_tag(authorization), version=version)
            lead["variables"]["query"] = request.query
        return json.dumps(leads).encode()

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        lines = [f"HTTP/1.1 {status} Whatever", "Content-Type: application/json"]
        lines += [f"{name}: {value}" for name, value in [*(headers or []), *self.behaviour.headers]]
        lines += [f"Content-Length: {len(body) if length is None else length}", "", ""]
        writer.write("\r\n".join(lines).encode() + body)
        await writer.drain()
