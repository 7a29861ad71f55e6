"""The simulated dialer's rules and moves without a server: campaign windows, outcomes,
and `Calls` on a temporary SQLite file with a fake wall clock."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leads_proxy.fixtures.campaigns import Campaigns, complete
from leads_proxy.fixtures.files import FixtureSet, load_fixtures
from leads_proxy.http.keys import state_key
from leads_proxy.mock import dialing
from leads_proxy.mock.bodies import NewLead
from leads_proxy.mock.calling import Calls, Plan
from leads_proxy.mock.dialer import Dialer, deliveries
from leads_proxy.mock.state import State
from leads_proxy.mock.writes import Writes
from tests.support import BUNDLED

MONDAY = 1_796_601_600.0  # 2026-12-07 00:00:00 UTC, a Monday
HOUR = 3600
A = b"Bearer 1|calls-a"


def campaign(**given: Any) -> dict[str, Any]:
    return complete({"id": 1, "name": "c", **given})


@pytest.mark.parametrize(
    ("window", "at", "open_"),
    [
        ({}, MONDAY + 5, True),  # the defaults: every day, the whole day
        ({"status": "draft"}, MONDAY + 12 * HOUR, False),
        ({"allowed_days": ["tuesday"]}, MONDAY + 12 * HOUR, False),
        ({"allowed_days": ["monday"]}, MONDAY + 12 * HOUR, True),
        ({"allowed_hours_start_time": "09:00:00", "allowed_hours_end_time": "17:00:00"},
         MONDAY + 17 * HOUR, True),  # the end is included
        ({"allowed_hours_start_time": "09:00:00", "allowed_hours_end_time": "17:00:00"},
         MONDAY + 17 * HOUR + 1, False),
        # Across midnight: Monday 22:00 to Tuesday 06:00 belongs to Monday.
        ({"allowed_days": ["monday"], "allowed_hours_start_time": "22:00:00",
          "allowed_hours_end_time": "06:00:00"}, MONDAY + 23 * HOUR, True),
        ({"allowed_days": ["monday"], "allowed_hours_start_time": "22:00:00",
          "allowed_hours_end_time": "06:00:00"}, MONDAY + 29 * HOUR, True),
        ({"allowed_days": ["monday"], "allowed_hours_start_time": "22:00:00",
          "allowed_hours_end_time": "06:00:00"}, MONDAY + 5 * HOUR, False),
        ({"allowed_days": []}, MONDAY, False),
    ],
)  # fmt: skip
def test_dialing__a_campaign_is_open_on_its_days_and_hours(
    window: dict[str, Any], at: float, open_: bool
) -> None:
    assert dialing.is_open(at, campaign(**window)) is open_


def test_dialing__the_next_open_moment_is_the_first_one_from_then_on() -> None:
    tuesdays = campaign(allowed_days=["tuesday"], allowed_hours_start_time="09:00:00")
    assert dialing.next_open(MONDAY + 10 * HOUR, tuesdays) == MONDAY + 33 * HOUR
    assert dialing.next_open(MONDAY + 34 * HOUR, tuesdays) == MONDAY + 34 * HOUR
    assert dialing.next_open(MONDAY + 48 * HOUR, tuesdays) == MONDAY + (7 * 24 + 33) * HOUR
    assert dialing.next_open(MONDAY, campaign(allowed_days=[])) is None
    assert dialing.next_open(MONDAY, campaign(status="draft")) is None


def test_dialing__outcomes_are_forced_by_the_variable_else_drawn_from_the_seed() -> None:
    lead = {"id": 5, "phone_number": "+14155550100", "variables": {}}
    forced = {**lead, "variables": {"mock_outcome": "busy"}}
    assert {dialing.call_of(seed, forced, 1).outcome for seed in range(20)} == {"busy"}
    drawn = [dialing.call_of(seed, lead, 1) for seed in range(200)]
    assert drawn == [dialing.call_of(seed, lead, 1) for seed in range(200)]
    assert set(Counter(call.outcome for call in drawn)) == set(dialing.OUTCOMES)
    ignored = {**lead, "variables": {"mock_outcome": "on fire"}}
    assert dialing.call_of(3, ignored, 1) == dialing.call_of(3, lead, 1)


def test_dialing__times_in_the_webhook_are_iso_with_microseconds() -> None:
    assert dialing.iso(MONDAY + 1.5) == "2026-12-07T00:00:01.500000Z"


@pytest.fixture(scope="module")
def fixtures() -> FixtureSet:
    return load_fixtures(BUNDLED)


class Wall:
    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    made = State(tmp_path / "state.sqlite3")
    yield made
    made.close()


def test_calls__lines_per_key_and_campaign_a_delete_stops_a_lead(
    fixtures: FixtureSet, state: State
) -> None:
    wall = Wall()
    one_line = Campaigns.of([campaign(max_calls_in_parallel=1, max_retries=1)])
    calls = Calls(one_line, Plan(speed=0), wall=wall)
    writes = Writes(state, FixtureSet(fixtures.files, campaigns=one_line), wall=wall, calls=calls)
    key, other = state_key(A), state_key(b"Bearer 2|calls-b")

    async def scenario() -> list[dict[str, Any]]:
        await state.write(calls.start)
        made = []
        for who, number in ((key, 1), (key, 2), (key, 3), (other, 4)):
            new = NewLead(f"+1415555{number:04d}", 1, {"mock_outcome": "busy"}, False, ())
            made.append(json.loads((await writes.create(who, "f", new)).body)["data"]["id"])
        await writes.delete(key, "f", made[2])
        await state.write(lambda db: calls.advance(db, 11))  # scheduled at 5 s, called at 10 s
        await state.write(calls.run_until)

        def phases(db: Any) -> list[dict[str, Any]]:
            rows = db.execute("SELECT key, lead_id, phase FROM calls ORDER BY key, lead_id")
            return [{"key": k, "lead": lead, "phase": p} for k, lead, p in rows]

        return await state.run(phases)

    rows = asyncio.run(scenario())
    mine = [row["phase"] for row in rows if row["key"] == key]
    theirs = [row["phase"] for row in rows if row["key"] == other]
    assert mine == ["processing", "scheduled"]  # one line for the key; the deleted lead gone
    assert theirs == ["processing"]  # another key's campaign has its own line


def test_dialer__an_attempt_ends_within_its_timeout_however_the_receiver_trickles(
    state: State,
) -> None:
    async def trickle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)  # a status line one byte an hour, as far as it knows
        raise AssertionError("never answered")

    calls = Calls(Campaigns.of([campaign()]), Plan(webhook_url="http://u:p@127.0.0.1:9/h?t=x"))

    async def scenario() -> list[dict[str, Any]]:
        dialer = Dialer(state, calls, timeout=0.2, transport=httpx.MockTransport(trickle))
        await state.write(calls.start)
        await state.write(lambda db: calls._queue(db, 1, 17, b"{}"))
        await dialer._send(1, "http://127.0.0.1:9/h", "{}", 0)
        await dialer.close()
        return await state.run(lambda db: deliveries(db, 10))

    (sent,) = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert (sent["attempts"], sent["last_error"], sent["delivered"]) == (1, "timed out", False)
    assert sent["url"] == "http://127.0.0.1:9/h?…"  # no user, password or query shown


def test_calls__a_clock_set_back_takes_the_calls_under_way_with_it(state: State) -> None:
    wall = Wall()
    calls = Calls(Campaigns.of([campaign()]), Plan(speed=0), wall=wall)

    async def scenario() -> tuple[float, float, float]:
        await state.write(calls.start)
        await state.write(lambda db: calls.advance(db, 7200))

        def put(db: Any) -> None:
            db.execute("INSERT INTO calls VALUES ('k', 1, 'processing', ?, 1, ?)",
                       (MONDAY + 7300, MONDAY + 7200))  # fmt: skip

        await state.write(put)
        await state.write(calls.reset)
        at, began = await state.run(lambda db: db.execute("SELECT at, began FROM calls").fetchone())
        return at, began, await state.run(calls.now)

    at, began, now = asyncio.run(scenario())
    assert (began, at) == (now, now + 100)
