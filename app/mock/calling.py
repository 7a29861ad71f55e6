"""The simulated dialer's state machine on the mock's database, and its clock.

A lead a key creates (or sets back to `created`) is tracked in `calls` until it
ends `completed` or `reached-max-retries`: `created`, then `scheduled`
(`dialing.SCHEDULE_AFTER` later), then `processing` once its campaign is open
and has a free line (`max_calls_in_parallel` per key and campaign), then
`completed`, or `rescheduled` for `retry_interval` minutes and called again,
and `reached-max-retries` once `max_retries` calls (at least one) have failed.
The leads of the fixtures are never called unless a key sets one to `created`.

`run_until` plays every move due up to a simulated time, in time order, each
at its own moment (`updated_at` is that moment), so an advance of a day runs
a day of calls; each move writes the lead's JSON and the key's version, so
the listing shows it at once, and each call's end queues its webhook. All of
it runs in the state's write transactions: whichever worker runs it, a move
is made once.

The clock is the `clock` row: simulated time is `base_sim + (now - base_wall)
* speed`, read in the transaction that uses it, so every worker reads one time.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..fixtures.campaigns import Campaigns, complete
from ..http.clock import Clock
from ..http.jsonbody import encode
from . import dialing

TIMESTAMP = "%Y-%m-%d %H:%M:%S"  # the listing's format, UTC
MOVES_PER_TRANSACTION = 2_000  # a longer run continues in the next transaction
MAX_ADVANCE = 366 * dialing.DAY
MAX_PENDING = 10_000  # webhooks waiting; past it a new one is dropped (and counted)
KEPT_DELIVERIES = 1_000  # finished webhooks kept to be read
WAITING = ("scheduled", "rescheduled")


@dataclass(frozen=True, slots=True)
class Plan:
    """How the dialer runs: from `--mock-calls*` and `--mock-webhook*`."""

    seed: int = 0
    speed: float = 1.0
    webhook_url: str | None = None
    only_completed: bool = False


@dataclass(slots=True)
class _Row:
    """A lead being called, as `calls` holds it, with its lead and campaign."""

    key: str
    lead_id: int
    phase: str  # as in `calls`, or "done": no longer called
    at: float
    attempts: int
    began: float | None
    lead: dict[str, Any]
    campaign: dict[str, Any]


class Calls:
    """The dialer's moves and clock, on the state's connection (its own thread)."""

    def __init__(self, campaigns: Campaigns, plan: Plan, *, wall: Clock = time.time) -> None:
        self.campaigns = campaigns
        self.plan = plan
        self.wall = wall
        self.dropped = 0  # webhooks not queued: MAX_PENDING were waiting

    # The clock

    def start(self, db: sqlite3.Connection) -> None:
        """Take the clock on at this server's speed, from the time it shows (new: now)."""
        now = self.wall()
        found = db.execute("SELECT base_wall, base_sim, speed FROM clock").fetchone()
        shown = now if found is None else found[1] + (now - found[0]) * found[2]
        db.execute(
            "INSERT INTO clock VALUES (1, ?1, ?2, ?3, ?2, 1, NULL, 0) ON CONFLICT (id) DO UPDATE"
            " SET base_wall = ?1, base_sim = ?2, speed = ?3",
            (now, shown, self.plan.speed),
        )

    def now(self, db: sqlite3.Connection) -> float:
        """The simulated time."""
        base_wall, base_sim, speed = db.execute(
            "SELECT base_wall, base_sim, speed FROM clock"
        ).fetchone()
        return float(base_sim + (self.wall() - base_wall) * speed)

    def advance(self, db: sqlite3.Connection, seconds: float) -> float:
        """Move simulated time on by `seconds`; the new time."""
        moved = self.now(db) + seconds
        db.execute("UPDATE clock SET base_wall = ?, base_sim = ?", (self.wall(), moved))
        return moved

    def reset(self, db: sqlite3.Connection) -> float:
        """Simulated time back to the real time; the calls waiting or under way move
        back with it (a call in progress keeps its length)."""
        now = self.wall()
        back = now - self.now(db)  # the calls' schedule moves with the clock
        db.execute("UPDATE clock SET base_wall = ?1, base_sim = ?1, until = ?1", (now,))
        db.execute("UPDATE calls SET at = at + ?1, began = began + ?1", (back,))
        return now

    def timestamp(self, db: sqlite3.Connection) -> str:
        return time.strftime(TIMESTAMP, time.gmtime(self.now(db)))

    # What the writes tell it

    def track(self, db: sqlite3.Connection, key: str, lead: dict[str, Any] | None) -> None:
        """A lead was written: call it when it is `created`, else stop calling it."""
        if lead is None or lead.get("status") != "created":
            if lead is not None:
                self.untrack(db, key, lead["id"])
            return
        at = self.now(db) + dialing.SCHEDULE_AFTER
        db.execute(
            "INSERT OR REPLACE INTO calls VALUES (?, ?, 'created', ?, 0, NULL)",
            (key, lead["id"], at),
        )

    def untrack(self, db: sqlite3.Connection, key: str, lead_id: int) -> None:
        db.execute("DELETE FROM calls WHERE key = ? AND lead_id = ?", (key, lead_id))

    # The moves

    def run_until(self, db: sqlite3.Connection, until: float | None = None) -> bool:
        """Every move due up to `until` (default: now) that fits in one transaction;
        whether all of them did (False: call again)."""
        target = self.now(db) if until is None else until
        (cursor,) = db.execute("SELECT until FROM clock").fetchone()
        if cursor >= target:
            return True
        rows = self._rows(db)
        moved: set[str] = set()
        done = True
        for _ in range(MOVES_PER_TRANSACTION):
            moment = _next_moment(rows, cursor)
            if moment is None or moment > target:
                cursor = target
                break
            cursor = moment
            moved |= self._move(db, rows, moment)
            rows = [row for row in rows if row.phase != "done"]
        else:
            done = False
        if moved:  # else nothing changed: the next run starts where this one did
            db.execute("UPDATE clock SET until = ?", (cursor,))
        for key in moved:
            db.execute("UPDATE keys SET version = ? WHERE key = ?", (secrets.randbits(62), key))
        return done

    def _rows(self, db: sqlite3.Connection) -> list[_Row]:
        """The leads being called, each with its lead and campaign (a lead gone: dropped)."""
        rows = []
        for found in db.execute("SELECT * FROM calls ORDER BY key, lead_id").fetchall():
            key, lead_id = found[0], found[1]
            body = db.execute(
                "SELECT body FROM leads WHERE key = ? AND id = ?", (key, lead_id)
            ).fetchone()
            if body is None or body[0] is None:
                self.untrack(db, key, lead_id)
                continue
            lead = json.loads(body[0])
            campaign = self.campaigns.get(lead["campaign_id"]) or complete(
                {"id": lead["campaign_id"], "name": lead.get("campaign", {}).get("name", "")}
            )
            phase, at, attempts, began = found[2:]
            rows.append(_Row(key, lead_id, phase, at, attempts, began, lead, campaign))
        return rows

    def _move(self, db: sqlite3.Connection, rows: list[_Row], moment: float) -> set[str]:
        """Everything due at `moment`: calls end, created leads are scheduled, and
        waiting leads are called while their campaign has lines free."""
        moved: set[str] = set()
        for row in sorted(rows, key=_order):
            if row.phase == "processing" and row.at <= moment:
                self._end(db, row, moment)
                moved.add(row.key)
            elif row.phase == "created" and row.at <= moment:
                self._set(db, row, "scheduled", moment, at=moment + dialing.DIAL_AFTER)
                moved.add(row.key)
        lines = _lines(rows)
        for row in sorted(rows, key=_order):
            line = (row.key, row.lead["campaign_id"])
            free = lines[line] < row.campaign["max_calls_in_parallel"]
            due = row.phase in WAITING and row.at <= moment
            if due and free and dialing.is_open(moment, row.campaign):
                row.attempts += 1
                row.began = moment
                call = dialing.call_of(self.plan.seed, row.lead, row.attempts)
                self._set(db, row, "processing", moment, at=moment + call.duration)
                lines[line] += 1
                moved.add(row.key)
        return moved

    def _end(self, db: sqlite3.Connection, row: _Row, moment: float) -> None:
        call = dialing.call_of(self.plan.seed, row.lead, row.attempts)
        if call.completed:
            status = "completed"
        elif row.attempts >= max(1, row.campaign["max_retries"]):
            status = "reached-max-retries"
        else:
            status = "rescheduled"
        retry = moment + row.campaign["retry_interval"] * 60
        self._set(db, row, status, moment, at=retry)
        (call_id,) = db.execute(
            "UPDATE clock SET next_call = next_call + 1 RETURNING next_call - 1"
        ).fetchone()
        began = row.began if row.began is not None else moment
        if self.plan.webhook_url is not None and (call.completed or not self.plan.only_completed):
            sent = dialing.payload(call_id, call, row.lead, row.campaign, began=began, ended=moment)
            self._queue(db, call_id, row.lead_id, encode(sent))

    def _set(
        self, db: sqlite3.Connection, row: _Row, status: str, moment: float, *, at: float
    ) -> None:
        """The lead moves to `status` at `moment`: its JSON, its row of calls."""
        before = len(encode(row.lead))
        row.lead["status"] = status
        row.lead["updated_at"] = time.strftime(TIMESTAMP, time.gmtime(moment))
        body = encode(row.lead)
        db.execute(
            "UPDATE leads SET body = ? WHERE key = ? AND id = ?",
            (body.decode(), row.key, row.lead_id),
        )
        db.execute("UPDATE keys SET bytes = bytes + ? WHERE key = ?", (len(body) - before, row.key))
        if status in {"completed", "reached-max-retries"}:
            row.phase = "done"
            self.untrack(db, row.key, row.lead_id)
            return
        row.phase, row.at = status, at
        db.execute(
            "UPDATE calls SET phase = ?, at = ?, attempts = ?, began = ?"
            " WHERE key = ? AND lead_id = ?",
            (row.phase, row.at, row.attempts, row.began, row.key, row.lead_id),
        )

    def _queue(self, db: sqlite3.Connection, call_id: int, lead_id: int, body: bytes) -> None:
        pending = "SELECT count(*) FROM deliveries WHERE state = 'pending'"
        if db.execute(pending).fetchone()[0] >= MAX_PENDING:
            self.dropped += 1
            return
        now = self.wall()
        db.execute(
            "INSERT INTO deliveries (call_id, lead_id, url, payload, at, next_try)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (call_id, lead_id, self.plan.webhook_url, body.decode(), now, now),
        )
        db.execute(
            "DELETE FROM deliveries WHERE state != 'pending' AND id NOT IN"
            " (SELECT id FROM deliveries WHERE state != 'pending' ORDER BY id DESC LIMIT ?)",
            (KEPT_DELIVERIES,),
        )


def _order(row: _Row) -> tuple[float, int, str]:
    return row.at, row.lead_id, row.key


def _lines(rows: list[_Row]) -> Counter[tuple[str, int]]:
    """The calls under way, per key and campaign."""
    return Counter((row.key, row.lead["campaign_id"]) for row in rows if row.phase == "processing")


def _next_moment(rows: list[_Row], cursor: float) -> float | None:
    """The next moment something happens: a move due, or a waiting lead's campaign open
    with a line free (a lead waiting for a line waits for a call's end, itself a move)."""
    lines = _lines(rows)
    soonest: float | None = None
    for row in rows:
        moment: float | None = max(row.at, cursor)
        if row.phase in WAITING:
            if lines[row.key, row.lead["campaign_id"]] >= row.campaign["max_calls_in_parallel"]:
                continue
            moment = dialing.next_open(moment, row.campaign)  # type: ignore[arg-type]
        if moment is not None and (soonest is None or moment < soonest):
            soonest = moment
    return soonest
