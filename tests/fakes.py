"""Fakes shared by the unit tests: a clock, a scripted upstream, a shared layer.

One of each, used by every test that needs it; no test imports another.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from leads_proxy.http.reply import Reply
from leads_proxy.http.request import Head, Incoming
from leads_proxy.http.service import LeadsService
from leads_proxy.observe.stats import Stats
from leads_proxy.proxy.cache import CacheKey, Entry, KeyMaker
from leads_proxy.proxy.filling import Filler, ProxyConfig
from leads_proxy.proxy.layer import Claim, Cooling, SharedLayer, Wait
from leads_proxy.proxy.service import ProxyService
from leads_proxy.proxy.storage import MemoryStorage
from leads_proxy.proxy.upstream import Upstream

TOKEN = b"1|unit-test-key"
AUTH = (b"authorization", b"Bearer " + TOKEN)
SECRET = b"k" * 32
KEY = KeyMaker(SECRET).key(TOKEN, "")
WALL = 1_700_000_000.0


@dataclass
class Clock:
    """A monotonic clock that moves only when a test moves it."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Script:
    """The fake upstream's answers, in order; the last one repeats.

    With `gate` set, every request waits on it: a test holds the fill open.
    """

    answers: list[Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)
    gate: asyncio.Event | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request)


def ok(version: int) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(200, json=[{"version": version}])


def status(code: int, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _request: httpx.Response(code, json={"message": "no"}, headers=headers)


def entry(now: float, version: int = 1, ttl: float = 30.0) -> Entry:
    """An entry as a fill at `now` makes it: 30 s stale-while-revalidate, 600 s if-error."""
    body = json.dumps([{"version": version}]).encode()
    return Entry.build(
        body,
        etag=f'"v{version}"'.encode(),
        content_type=b"application/json",
        stored_at=now,
        fresh_until=now + ttl,
        stale_until=now + ttl + 30,
        error_until=now + ttl + 600,
    )


@dataclass
class FakeShared:
    """A shared layer that answers as scripted and records what it was asked."""

    claims: list[Claim | Cooling] = field(default_factory=lambda: [Claim.MINE])
    waits: list[Entry | Cooling | Wait] = field(default_factory=list)
    entries: dict[CacheKey, Entry] = field(default_factory=dict)
    available: bool = True
    puts: list[tuple[CacheKey, Entry, bool]] = field(default_factory=list)  # (.., restored)
    released: list[str] = field(default_factory=list)
    cooled: list[float] = field(default_factory=list)
    lookups: list[CacheKey] = field(default_factory=list)
    where: str = "fake"
    kind: str = "single server"
    lands: Entry | None = None  # a peer's fill that lands (and is released) just before a claim

    async def get(self, key: CacheKey, *, hold_until: float) -> Entry | None:
        self.lookups.append(key)
        await asyncio.sleep(0)  # a round trip: other requests arrive meanwhile
        found = self.entries.get(key)
        return found.held(hold_until) if found and self.available else None

    async def put(self, key: CacheKey, entry: Entry) -> bool:
        self.puts.append((key, entry, False))
        self.entries[key] = entry
        return True

    async def restore(self, key: CacheKey, entry: Entry) -> bool:
        self.puts.append((key, entry, True))
        self.entries[key] = entry
        return True

    async def claim(self, key: CacheKey, *, token: str, hold: float) -> Claim | Cooling:
        if self.lands is not None:
            self.entries[key], self.lands = self.lands, None
        return self.claims.pop(0) if len(self.claims) > 1 else self.claims[0]

    async def release(self, key: CacheKey, token: str) -> None:
        self.released.append(token)

    async def wait_for_fill(
        self, key: CacheKey, *, until: float, hold_until: float
    ) -> Entry | Cooling | Wait:
        return self.waits.pop(0)

    async def cool_down(self, fingerprint: str, seconds: float) -> None:
        self.cooled.append(seconds)

    async def purge(self, fingerprint: str | None) -> int | None:
        return 0

    async def listen(self, on_purge: Callable[[str | None], object]) -> None:
        return None

    async def ping(self) -> bool:
        return self.available

    async def close(self) -> None:
        return None

    def new_token(self) -> str:
        return "token-1"


def make_proxy(
    script: Script,
    clock: Clock,
    *,
    shared: SharedLayer | None = None,
    hold: float = 1.0,
    **config: float,
) -> ProxyService:
    """A ProxyService on the fake upstream and clock, no sockets."""
    upstream = Upstream(
        "http://upstream.test/api", transport=httpx.MockTransport(script), clock=clock
    )
    filler = Filler(
        upstream=upstream,
        storage=MemoryStorage(max_entries=100, max_bytes=1_000_000, clock=clock),
        config=ProxyConfig(**config),  # type: ignore[arg-type]
        stats=Stats(),
        clock=clock,
        wall=lambda: WALL,
        shared=shared,
        hold=hold,
    )
    return ProxyService(filler=filler, keys=KeyMaker(SECRET), clock=clock)


def get(service: ProxyService, query: bytes = b"", *headers: tuple[bytes, bytes]) -> Reply:
    """One leads request, answered on a loop of its own."""
    return asyncio.run(answer(service, Incoming(query=query, headers=[AUTH, *headers])))


def hot_reply(
    service: LeadsService, query: bytes = b"", headers: Sequence[tuple[bytes, bytes]] = ()
) -> Reply | None:
    """The hot path's reply to a GET of the listing, as the edge asks for it (None: not ready)."""
    sent = list(headers)
    if not any(name == b"host" for name, _ in sent):  # as every HTTP/1.1 client sends,
        sent.append((b"host", b"127.0.0.1:8000"))  # naming Incoming's default origin
    served = service.hot(Head.read("GET", "/api/user/leads", query, sent))
    return None if served is None else served.reply


async def answer(service: LeadsService, incoming: Incoming) -> Reply:
    """The full path's reply."""
    return (await service.answer(incoming)).reply


def body_version(reply: Reply) -> int:
    version: int = json.loads(reply.body)[0]["version"]
    return version


def header(reply: Reply, name: bytes) -> str:
    return dict(reply.headers)[name].decode()


async def until(condition: Callable[[], object], *, within: float = 5.0) -> None:
    """Let the loop run until `condition()` holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0)
