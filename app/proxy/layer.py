"""The shared layer as the filling sees it: a protocol and the values it answers."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .cache import CacheKey, Entry


class Claim(enum.Enum):
    MINE = "mine"  # this process holds the fill lock: ask the upstream
    TAKEN = "taken"  # another process is asking: wait for its entry
    UNAVAILABLE = "unavailable"  # the layer is down: act alone


@dataclass(frozen=True, slots=True)
class Cooling:
    """The API key is waiting out a 429 told to some process."""

    seconds: float


class Wait(enum.Enum):
    RELEASED = "released"  # the lock is gone and no fresh entry came: that fill failed
    TIMED_OUT = "timed-out"
    UNAVAILABLE = "unavailable"


class SharedLayer(Protocol):
    """A cache, fill lock and cooldown shared by every process (Redis)."""

    available: bool

    @property
    def where(self) -> str:
        """The server, for logs, without credentials."""

    @property
    def kind(self) -> object:
        """What kind of Redis answered (single server, cluster, Sentinel service)."""

    async def get(self, key: CacheKey, *, hold_until: float) -> Entry | None: ...
    async def put(self, key: CacheKey, entry: Entry) -> bool: ...
    async def restore(self, key: CacheKey, entry: Entry) -> bool: ...
    async def claim(self, key: CacheKey, *, token: str, hold: float) -> Claim | Cooling: ...
    async def release(self, key: CacheKey, token: str) -> None: ...
    async def wait_for_fill(
        self, key: CacheKey, *, until: float, hold_until: float
    ) -> Entry | Cooling | Wait: ...
    async def cool_down(self, fingerprint: str, seconds: float) -> None: ...
    async def purge(self, fingerprint: str | None) -> int | None: ...
    async def listen(self, on_purge: Callable[[str | None], object]) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...
    def new_token(self) -> str: ...
