"""The simulated dialer of a mock server: one background task that runs the calls
(`mock.calling`) as simulated time goes and delivers their post-call webhooks.

Every worker starts one, but only the holder of the dialer's lease (a row of
the state, renewed at each tick, taken over when it lapses) runs and delivers,
so `--workers N` has one dialer. A webhook is a real HTTP `POST` from here,
never from an answer's path: `MAX_ATTEMPTS` tries, each within the timeout,
spaced by a doubling backoff, then it is given up on; at most `LINES` are in
flight, and a receiver's answer is never read past its status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sqlite3
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from ..http.clock import Clock
from .calling import Calls
from .dialing import iso
from .state import State

logger = logging.getLogger("leads_proxy.dialer")

TICK = 0.2  # seconds between the dialer's looks
LEASE = 3.0  # seconds a dialer's lease lasts unless renewed
MAX_ATTEMPTS = 4  # a webhook's tries: the first and three retries
BACKOFF = 0.5  # seconds before the first retry; doubled for each next one
LINES = 8  # webhooks in flight at once
USER_AGENT = "leads-proxy (simulated post-call webhook)"


class Dialer:
    """The dialer's task: its lease, its moves, its deliveries."""

    def __init__(
        self,
        state: State,
        calls: Calls,
        *,
        timeout: float,
        wall: Clock = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.state = state
        self.calls = calls
        self.wall = wall
        self.name = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.timeout = timeout  # for the whole attempt, not each read of it
        self._client = httpx.AsyncClient(
            timeout=timeout, transport=transport, trust_env=False, follow_redirects=False
        )
        self._lines = asyncio.Semaphore(LINES)
        self._sending: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.state.write(self.calls.start)
        self._task = asyncio.create_task(self._run(), name="leads-proxy-dialer")

    async def close(self) -> None:
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._client.aclose()

    async def catch_up(self, until: float | None = None) -> None:
        """Play every move due up to `until` (default: now), a transaction at a time."""
        while not await self.state.write(lambda db: self.calls.run_until(db, until)):
            pass

    async def _run(self) -> None:
        while True:
            try:
                if await self.state.run(self._leased):
                    await self.catch_up()
                    await self._deliver()
            except (sqlite3.Error, OSError) as error:  # the next tick tries again
                logger.warning("the simulated dialer could not run: %s", error)
            await asyncio.sleep(TICK)

    def _leased(self, db: sqlite3.Connection) -> bool:
        """Whether this process dials: its lease renewed, or a lapsed one taken."""
        now = self.wall()
        db.execute("BEGIN IMMEDIATE")
        try:
            taken = db.execute(
                "UPDATE clock SET dialer = ?1, lease = ?2 WHERE dialer IS NULL OR dialer = ?1"
                " OR lease < ?3",
                (self.name, now + LEASE, now),
            ).rowcount
        finally:
            db.execute("COMMIT")
        return bool(taken)

    async def _deliver(self) -> None:
        def due(db: sqlite3.Connection) -> list[tuple[int, str, str, int]]:
            found = db.execute(
                "SELECT id, url, payload, attempts FROM deliveries"
                " WHERE state = 'pending' AND next_try <= ? ORDER BY id LIMIT ?",
                (self.wall(), LINES + len(self._sending)),
            ).fetchall()
            free = max(0, LINES - len(self._sending))  # never more waiting than lines
            return [row for row in found if row[0] not in self._sending][:free]

        for row in await self.state.run(due):
            self._sending.add(row[0])
            task = asyncio.create_task(self._send(*row))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, delivery: int, url: str, payload: str, attempts: int) -> None:
        status: int | None = None
        error: str | None = None
        try:
            async with self._lines, asyncio.timeout(self.timeout):  # a trickle is cut too
                request = self._client.build_request(
                    "POST",
                    url,
                    content=payload.encode(),
                    headers={"content-type": "application/json", "user-agent": USER_AGENT},
                )
                answer = await self._client.send(request, stream=True)
                status = answer.status_code
                await answer.aclose()  # the status is all it needs: the body is never read
        except (httpx.TimeoutException, TimeoutError):
            error = "timed out"
        except httpx.HTTPError as failed:
            error = _why(failed)
        try:
            await self.state.write(lambda db: self._record(db, delivery, attempts, status, error))
        finally:
            self._sending.discard(delivery)

    def _record(
        self,
        db: sqlite3.Connection,
        delivery: int,
        attempts: int,
        status: int | None,
        error: str | None,
    ) -> None:
        now = self.wall()
        tried = attempts + 1
        if status is not None and 200 <= status < 300:
            state = "delivered"
        else:
            state = "given-up" if tried >= MAX_ATTEMPTS else "pending"
        db.execute(
            "UPDATE deliveries SET attempts = ?, state = ?, last_status = ?, last_error = ?,"
            " at = ?, next_try = ? WHERE id = ?",
            (tried, state, status, error, now, now + BACKOFF * 2 ** (tried - 1), delivery),
        )
        if state == "given-up":
            (call_id,) = db.execute(
                "SELECT call_id FROM deliveries WHERE id = ?", (delivery,)
            ).fetchone()
            why = error or f"HTTP {status}"
            logger.warning(
                "gave up on the webhook of call %s after %d attempts (%s)", call_id, tried, why
            )


def _why(failed: httpx.HTTPError) -> str:
    if isinstance(failed, httpx.ConnectError):
        return "could not connect"
    return type(failed).__name__


def deliveries(db: sqlite3.Connection, limit: int) -> list[dict[str, Any]]:
    """The webhooks, newest first, as `GET /_proxy/webhooks` shows them."""
    found = db.execute(
        "SELECT call_id, lead_id, url, attempts, state, last_status, last_error, at,"
        " json_extract(payload, '$.status') FROM deliveries ORDER BY id DESC LIMIT ?",
        (limit,),
    )
    names = ("call_id", "lead_id", "url", "attempts", "state", "last_status", "last_error")
    shown = []
    for row in found:
        delivery = dict(zip(names, row, strict=False))
        state = delivery.pop("state")
        shown.append(
            {
                **delivery,
                "call_status": row[8],
                "delivered": state == "delivered",
                "given_up": state == "given-up",
                "at": iso(row[7]),
                "url": shown_url(row[2]),
            }
        )
    return shown


def shown_url(url: str) -> str:
    """A webhook URL as the views show it: no user, password or query (tokens hide there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))
