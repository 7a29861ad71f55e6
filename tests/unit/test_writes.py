"""The writes' core without a server: State, Writes and the keys' listings, on a fake wall
clock, in a temporary SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leads_proxy.fixtures.files import FixtureSet, load_fixtures
from leads_proxy.http.jsonbody import encode
from leads_proxy.http.keys import state_key
from leads_proxy.mock.bodies import LeadChanges, NewContact, NewLead
from leads_proxy.mock.keyed import KeyedListings
from leads_proxy.mock.state import State, StateError, state_problem
from leads_proxy.mock.writes import Limits, Writes
from tests.support import BUNDLED

A = b"Bearer 1|unit-a"
NOON = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


@pytest.fixture(scope="module")
def fixtures() -> FixtureSet:
    return load_fixtures(BUNDLED)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    made = State(tmp_path / "state.sqlite3")
    yield made
    made.close()


def lead(phone: str = "+14155550100", campaign: int = 1, contacts: int = 0) -> NewLead:
    extra = tuple(NewContact(f"+1415555{n:04d}", {"n": n}) for n in range(contacts))
    return NewLead(phone, campaign, {"name": "x"}, allow_duplicate=False, secondary_contacts=extra)


def changes(**given: Any) -> LeadChanges:
    return LeadChanges(**{"campaign_id": None, "phone_number": None, "status": None,
                          "variables": None, **given})  # fmt: skip


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def listed(keyed: KeyedListings, authorization: bytes = A) -> list[dict[str, Any]]:
    found = await keyed.listing(authorization)
    assert found is not None
    assert found.fixture.body == encode(list(found.fixture.leads))  # joined, never re-encoded
    return json.loads(found.fixture.body)  # type: ignore[no-any-return]


def test_writes__a_key_lists_the_default_with_its_writes_applied_in_place(
    state: State, fixtures: FixtureSet
) -> None:
    writes = Writes(state, fixtures, wall=lambda: NOON)
    keyed = KeyedListings(state, fixtures.default)
    key = state_key(A)
    default = list(fixtures.default.leads)

    async def scenario() -> None:
        assert await keyed.listing(A) is None  # not written: the fixtures answer
        made = await writes.create(key, "fp", lead(contacts=2))
        assert made.status == 200
        second = default[1]["id"]
        assert (await writes.update(key, "fp", second, changes(status="completed"))).status == 200
        assert (await writes.delete(key, "fp", default[0]["id"])).status == 200
        leads = await listed(keyed)
        assert [x["id"] for x in leads] == [x["id"] for x in default[1:]] + [leads[-1]["id"]]
        assert leads[0]["status"] == "completed"
        assert leads[0]["updated_at"] == "2026-05-28 20:26:40"
        assert leads[1:-1] == default[2:]
        assert [c["id"] for c in leads[-1]["secondary_contacts"]] == [
            leads[-1]["id"] + 1, leads[-1]["id"] + 2
        ]  # fmt: skip
        assert await keyed.listing(b"Bearer 2|other") is None

    run(scenario())


def test_writes__each_write_gives_the_listing_a_new_version_seen_by_another_process(
    state: State, fixtures: FixtureSet, tmp_path: Path
) -> None:
    other = State(tmp_path / "state.sqlite3")  # another worker on the same file
    writes = Writes(state, fixtures)
    theirs = KeyedListings(other, fixtures.default)
    key = state_key(A)

    async def scenario() -> None:
        assert await theirs.listing(A) is None
        assert theirs.ready(A) is False
        await writes.create(key, "fp", lead())
        assert other.changed()
        assert theirs.ready(A) is None  # to be made: the state changed
        first = await theirs.listing(A)
        assert first is not None
        assert theirs.ready(A) is first
        await writes.create(key, "fp", lead("+14155550101"))
        second = await theirs.listing(A)
        assert second is not None
        assert second.version != first.version
        assert second.fixture.etag != first.fixture.etag
        assert await state.forget() == (1, 2)
        assert await theirs.listing(A) is None

    run(scenario())
    other.close()


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        pytest.param(Limits(key_leads=2), "2 changed leads for this key", id="leads-per-key"),
        pytest.param(Limits(key_bytes=700), "700 bytes of leads for this key", id="bytes-per-key"),
        pytest.param(Limits(keys=1), "writes of 1 keys", id="keys"),
        pytest.param(Limits(state_bytes=700), "700 bytes of leads", id="state-bytes"),
    ],
)
def test_writes__past_a_bound_a_507_and_nothing_written(
    state: State, fixtures: FixtureSet, limits: Limits, says: str
) -> None:
    writes = Writes(state, fixtures, limits=limits)
    keyed = KeyedListings(state, fixtures.default)

    async def scenario() -> None:
        answers = [
            await writes.create(state_key(A), "fp", lead(f"+1415555010{n}")) for n in range(3)
        ]
        other = await writes.create(state_key(b"Bearer 2|b"), "fp", lead())
        refused = [a for a in [*answers, other] if a.status == 507]
        assert refused
        assert says in json.loads(refused[0].body)["message"]
        written = sum(a.status == 200 for a in answers)
        if written:
            assert len(await listed(keyed)) == len(fixtures.default.leads) + written
        else:
            assert await keyed.listing(A) is None

    run(scenario())


def test_state__a_corrupt_or_foreign_file_is_one_line_and_left_alone(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"x" * 4096)
    problem = state_problem(corrupt)
    assert problem is not None
    assert str(corrupt) in problem
    assert "\n" not in problem
    assert corrupt.read_bytes() == b"x" * 4096
    with pytest.raises(StateError, match="cannot open"):
        State(tmp_path / "missing" / "state.db")
    assert state_problem(None) is None
