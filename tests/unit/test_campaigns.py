"""Campaigns for mock mode: `campaigns.json` validated once at load, or derived from the leads."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from leads_proxy.fixtures.campaigns import (
    DAYS,
    FIELDS,
    MAX_CAMPAIGNS,
    UNDATED,
    Campaigns,
)
from leads_proxy.fixtures.files import (
    MAX_PROBLEMS,
    Fixture,
    FixtureError,
    FixtureSet,
    Problem,
    check_fixtures,
    load_fixtures,
)
from leads_proxy.fixtures.reading import MAX_FILE_BYTES
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.http.encoding import gzip_of
from leads_proxy.http.etag import etag_of
from leads_proxy.http.jsonbody import encode
from tests.support import BUNDLED

DEFAULTS: dict[str, Any] = {
    "status": "active",
    "max_calls_in_parallel": 3,
    "mark_complete_when_no_leads": False,
    "allowed_hours_start_time": "00:00:00",
    "allowed_hours_end_time": "23:59:59",
    "allowed_days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "max_retries": 3,
    "retry_interval": 60,
}
FULL: dict[str, Any] = {
    "id": 7,
    "name": "Winter follow-up",
    "status": "draft",
    "max_calls_in_parallel": 1,
    "mark_complete_when_no_leads": True,
    "allowed_hours_start_time": "09:00:00",
    "allowed_hours_end_time": "17:30:00",
    "allowed_days": ["friday", "monday"],
    "max_retries": 0,
    "retry_interval": 0,
    "created_at": "2025-03-01 08:00:00",
    "updated_at": "2025-03-02 09:00:00",
}


def lead(lead_id: int, campaign_id: int, name: str, created_at: str) -> dict[str, Any]:
    return {
        **EXAMPLE_LEAD,
        "id": lead_id,
        "campaign_id": campaign_id,
        "campaign": {"id": campaign_id, "name": name},
        "created_at": created_at,
        "secondary_contacts": [],
    }


def folder(root: Path, campaigns: Any = None, *, leads: list[dict[str, Any]] | None = None) -> Path:
    """A fixtures folder: leads/default.json (EXAMPLE_LEAD unless `leads`), and
    campaigns.json holding `campaigns` as JSON (bytes as they are) unless None."""
    (root / "leads").mkdir()
    (root / "leads" / "default.json").write_text(
        json.dumps([EXAMPLE_LEAD] if leads is None else leads)
    )
    if isinstance(campaigns, bytes):
        (root / "campaigns.json").write_bytes(campaigns)
    elif campaigns is not None:
        (root / "campaigns.json").write_text(json.dumps(campaigns))
    return root


def problems_of(root: Path) -> list[Problem]:
    with pytest.raises(FixtureError) as caught:
        load_fixtures(root)
    return caught.value.problems


def test_derived__bundled_fixtures_give_one_campaign_per_id_with_every_default() -> None:
    campaigns = load_fixtures(BUNDLED).campaigns
    assert campaigns.source == "derived"
    # Names from default.json (read first: documented.json names campaign 1 otherwise);
    # dated by the campaign's earliest lead in any example.
    assert list(campaigns.items) == [
        {"id": 1, "name": "Summer onboarding", **DEFAULTS,
         "created_at": "2025-01-24 20:53:39", "updated_at": "2025-01-24 20:53:39"},
        {"id": 2, "name": "Spring onboarding", **DEFAULTS,
         "created_at": "2025-02-22 05:35:51", "updated_at": "2025-02-22 05:35:51"},
        {"id": 3, "name": "Ramadan open house", **DEFAULTS,
         "created_at": "2025-01-15 16:15:46", "updated_at": "2025-01-15 16:15:46"},
    ]  # fmt: skip
    assert all(tuple(campaign) == FIELDS for campaign in campaigns.items)
    assert list(DAYS) == DEFAULTS["allowed_days"]


def test_derived__default_names_first_other_examples_add_campaigns_and_dates(
    tmp_path: Path,
) -> None:
    root = folder(tmp_path, leads=[lead(1, 5, "From default", "2025-05-01 00:00:00")])
    (root / "leads" / "a.json").write_text(
        json.dumps(
            [
                lead(2, 5, "From a", "2025-04-01 00:00:00"),
                lead(3, 2, "Only in a", "2025-06-01 00:00:00"),
                lead(4, 2, "Second name", "2025-06-02 00:00:00"),
            ]
        )
    )
    campaigns = load_fixtures(root).campaigns
    assert [(c["id"], c["name"], c["created_at"]) for c in campaigns.items] == [
        (2, "Only in a", "2025-06-01 00:00:00"),
        (5, "From default", "2025-04-01 00:00:00"),
    ]


def test_derived__no_leads_no_campaigns(tmp_path: Path) -> None:
    campaigns = load_fixtures(folder(tmp_path, leads=[])).campaigns
    assert campaigns.items == ()
    assert campaigns.body == b"[]"


def test_fixture_set__made_with_only_files_derives_its_campaigns() -> None:
    made = FixtureSet(files={"default": Fixture.of("default", [EXAMPLE_LEAD])})
    assert made.campaigns.source == "derived"
    assert made.campaigns.items == (
        {"id": 1, "name": "My new campaign", **DEFAULTS,
         "created_at": "2025-06-30 11:18:04", "updated_at": "2025-06-30 11:18:04"},
    )  # fmt: skip


def test_file__partial_entries_are_filled_with_defaults_and_extras_kept(tmp_path: Path) -> None:
    given = [
        {"notes": "kept", "name": "Only a name", "id": 1},
        {"id": 9, "name": "No leads"},
        {"id": 3, "name": "Dated", "created_at": "2025-02-01 10:00:00"},
        FULL,
    ]
    campaigns = load_fixtures(folder(tmp_path, given)).campaigns
    assert campaigns.source == "campaigns.json"
    lead_date = EXAMPLE_LEAD["created_at"]
    assert list(campaigns.items) == [  # the file's order, documented keys first
        {"id": 1, "name": "Only a name", **DEFAULTS,
         "created_at": lead_date, "updated_at": lead_date, "notes": "kept"},
        {"id": 9, "name": "No leads", **DEFAULTS, "created_at": UNDATED, "updated_at": UNDATED},
        {"id": 3, "name": "Dated", **DEFAULTS,
         "created_at": "2025-02-01 10:00:00", "updated_at": "2025-02-01 10:00:00"},
        FULL,
    ]  # fmt: skip
    assert list(campaigns.items[0]) == [*FIELDS, "notes"]
    assert campaigns.get(9) == campaigns.items[1]
    assert campaigns.get(2) is None


def test_file__filled_days_are_not_shared_between_campaigns(tmp_path: Path) -> None:
    campaigns = load_fixtures(folder(tmp_path, [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]))
    first, second = campaigns.campaigns.items
    assert first["allowed_days"] is not second["allowed_days"]


def entry(**fields: Any) -> list[dict[str, Any]]:
    return [{"id": 1, "name": "A campaign", **fields}]


@pytest.mark.parametrize(
    ("given", "pointer", "message"),
    [
        pytest.param(entry(id="1"), "/0/id", 'expected a valid integer, got "1"', id="id-string"),
        pytest.param(entry(id=True), "/0/id", "expected a valid integer, got true", id="id-bool"),
        pytest.param(entry(id=0), "/0/id", "expected greater than or equal to 1, got 0", id="id-0"),
        pytest.param([{"name": "x"}], "/0/id", "missing required field", id="missing-id"),
        pytest.param([{"id": 1}], "/0/name", "missing required field", id="missing-name"),
        pytest.param(entry(name=""), "/0/name", 'expected a name that is not empty, got ""',
                     id="name-empty"),
        pytest.param(entry(name=5), "/0/name", "expected a valid string, got 5", id="name-number"),
        pytest.param(entry(status=None), "/0/status", "expected a valid string, got null",
                     id="status-null"),
        pytest.param(entry(max_calls_in_parallel=0), "/0/max_calls_in_parallel",
                     "expected greater than or equal to 1, got 0", id="parallel-0"),
        pytest.param(entry(mark_complete_when_no_leads="yes"), "/0/mark_complete_when_no_leads",
                     'expected a valid boolean, got "yes"', id="mark-complete-string"),
        pytest.param(entry(max_retries=-1), "/0/max_retries",
                     "expected greater than or equal to 0, got -1", id="retries-negative"),
        pytest.param(entry(retry_interval=1.5), "/0/retry_interval",
                     "expected a valid integer, got 1.5", id="interval-float"),
        pytest.param(entry(allowed_hours_start_time="24:00:00"), "/0/allowed_hours_start_time",
                     'expected a time like 09:00:00 (HH:MM:SS, 00:00:00 to 23:59:59), '
                     'got "24:00:00"', id="time-24h"),
        pytest.param(entry(allowed_hours_end_time="9:00"), "/0/allowed_hours_end_time",
                     'expected a time like 09:00:00 (HH:MM:SS, 00:00:00 to 23:59:59), got "9:00"',
                     id="time-short"),
        pytest.param(entry(allowed_hours_end_time="09:00:60"), "/0/allowed_hours_end_time",
                     'expected a time like 09:00:00 (HH:MM:SS, 00:00:00 to 23:59:59), '
                     'got "09:00:60"', id="time-second-60"),
        pytest.param(entry(allowed_days=["monday", "Tuesday"]), "/0/allowed_days/1",
                     "expected 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', "
                     "'saturday' or 'sunday', got \"Tuesday\"", id="day-capitalised"),
        pytest.param(entry(allowed_days=["mon"]), "/0/allowed_days/0",
                     "expected 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', "
                     "'saturday' or 'sunday', got \"mon\"", id="day-abbreviated"),
        pytest.param(entry(allowed_days="monday"), "/0/allowed_days",
                     'expected a valid list, got "monday"', id="days-not-a-list"),
        pytest.param(entry(allowed_days=["monday", "friday", "monday"]), "/0/allowed_days/2",
                     "duplicate day 'monday' (first at /0/allowed_days/0)", id="day-twice"),
        pytest.param(entry(created_at="2025-06-30T11:18:04"), "/0/created_at",
                     "expected a timestamp like 2025-06-30 11:18:04 (YYYY-MM-DD HH:MM:SS), "
                     'got "2025-06-30T11:18:04"', id="timestamp-iso"),
        pytest.param(entry(updated_at=20250630), "/0/updated_at",
                     "expected a valid string, got 20250630", id="timestamp-number"),
        pytest.param([*entry(), {"id": 2, "name": "b"}, *entry()], "/2/id",
                     "duplicate campaign id 1 (first at /0)", id="id-twice"),
        pytest.param([1], "/0", "expected a valid dictionary or instance of CampaignEntry, got 1",
                     id="entry-not-an-object"),
        pytest.param({"id": 1}, "", 'expected a valid list, got {"id": 1}', id="not-an-array"),
        pytest.param([{"id": 1, "name": "x"}] * (MAX_CAMPAIGNS + 1), "",
                     f"{MAX_CAMPAIGNS + 1:,} campaigns, over the bound of {MAX_CAMPAIGNS:,}",
                     id="too-many"),
    ],
)  # fmt: skip
def test_file__each_fault_is_one_problem_with_its_pointer(
    tmp_path: Path, given: Any, pointer: str, message: str
) -> None:
    root = folder(tmp_path, given)
    problem = Problem(root / "campaigns.json", message, pointer=pointer)
    assert problems_of(root) == [problem]
    assert check_fixtures(root) == ([problem], [])


def test_file__as_many_campaigns_as_the_bound_are_read(tmp_path: Path) -> None:
    given = [{"id": number, "name": "x"} for number in range(1, MAX_CAMPAIGNS + 1)]
    assert len(load_fixtures(folder(tmp_path, given)).campaigns.items) == MAX_CAMPAIGNS


def test_file__a_file_wrong_everywhere_shows_the_first_problems_and_a_count(
    tmp_path: Path,
) -> None:
    root = folder(tmp_path, [{"id": 0, "name": ""}] * 30)  # 89: two in each, 29 ids again
    problems = problems_of(root)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1] == Problem(root / "campaigns.json", "and 69 more problems")


def test_file__problems_of_leads_and_campaigns_are_reported_together(tmp_path: Path) -> None:
    root = folder(tmp_path, entry(id="x"), leads=[{**EXAMPLE_LEAD, "id": None}])
    assert [(problem.file.name, problem.pointer) for problem in problems_of(root)] == [
        ("default.json", "/0/id"),
        ("campaigns.json", "/0/id"),
    ]


def test_file__a_lone_surrogate_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    root = folder(tmp_path, b'[{"id": 1, "name": "\\ud800"}]')
    assert problems_of(root) == [
        Problem(root / "campaigns.json", "a lone surrogate escape (like \\ud800) in a string")
    ]


def _outside(root: Path) -> None:
    (root.parent / "secret.json").write_text("[]")
    (root / "campaigns.json").symlink_to(root.parent / "secret.json")


def _too_large(root: Path) -> None:
    with (root / "campaigns.json").open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: refused on its size, unread


@pytest.mark.parametrize(
    ("make", "message", "place"),
    [
        pytest.param(lambda root: (root / "campaigns.json").write_text("[{]"),
                     "malformed JSON: Expecting property name enclosed in double quotes",
                     (1, 3), id="malformed"),
        pytest.param(lambda root: (root / "campaigns.json").write_bytes(b'["\xff"]'),
                     "not UTF-8 text", (1, 3), id="not-utf8"),
        pytest.param(_too_large,
                     f"{MAX_FILE_BYTES + 1:,} bytes, over the bound of {MAX_FILE_BYTES:,} bytes "
                     "(64 MiB) for a file", (None, None), id="too-large"),
        pytest.param(_outside, "outside the fixtures folder (where its links lead): not read",
                     (None, None), id="link-out-of-the-folder"),
        pytest.param(lambda root: (root / "campaigns.json").symlink_to(root / "nothing"),
                     "missing (or a link to nothing)", (None, None), id="link-to-nothing"),
        pytest.param(lambda root: (root / "campaigns.json").mkdir(),
                     "not a regular file (a folder): not read", (None, None), id="a-folder"),
        pytest.param(lambda root: os.mkfifo(root / "campaigns.json"),
                     "not a regular file (a FIFO): not read", (None, None), id="a-fifo"),
    ],
)  # fmt: skip
def test_file__an_unreadable_file_is_a_problem_and_never_read_outside(
    tmp_path: Path, make: Any, message: str, place: tuple[int | None, int | None]
) -> None:
    root = tmp_path / "fixtures"
    root.mkdir()
    folder(root)
    make(root)
    line, column = place
    assert problems_of(root) == [
        Problem(root / "campaigns.json", message, line=line, column=column)
    ]


def test_file__campaigns_json_inside_leads_is_not_the_campaigns(tmp_path: Path) -> None:
    root = folder(tmp_path)
    (root / "leads" / "campaigns.json").write_text(json.dumps([EXAMPLE_LEAD]))
    fixtures = load_fixtures(root)
    assert fixtures.campaigns.source == "derived"
    assert "campaigns" in fixtures.files  # an example like any other


def test_warnings__a_lead_of_a_campaign_not_in_the_file(tmp_path: Path) -> None:
    leads = [lead(1, 1, "Known", "2025-01-01 00:00:00"), lead(2, 4, "Gone", "2025-01-01 00:00:00")]
    root = folder(tmp_path, entry(), leads=leads)
    fixtures = load_fixtures(root)
    assert fixtures.warnings == [
        Problem(
            root / "leads" / "default.json",
            "campaign 4 is not in campaigns.json",
            pointer="/1/campaign_id",
        )
    ]
    assert check_fixtures(root) == ([], fixtures.warnings)


def test_warnings__one_per_unknown_campaign_at_its_first_lead_with_a_count(
    tmp_path: Path,
) -> None:
    leads = [lead(number, 4, "Gone", "2025-01-01 00:00:00") for number in range(1, 4)]
    root = folder(tmp_path, entry(), leads=[lead(9, 1, "Known", "2025-01-01 00:00:00"), *leads])
    assert load_fixtures(root).warnings == [
        Problem(
            root / "leads" / "default.json",
            "campaign 4 is not in campaigns.json (3 leads name it, this one first)",
            pointer="/1/campaign_id",
        )
    ]


def test_warnings__leads_of_other_examples_are_not_checked(tmp_path: Path) -> None:
    root = folder(tmp_path, entry())
    (root / "leads" / "other.json").write_text(json.dumps([lead(1, 5, "x", "2025-01-01 00:00:00")]))
    assert load_fixtures(root).warnings == []


def test_warnings__an_unknown_campaign_status_is_served_and_reported(tmp_path: Path) -> None:
    root = folder(tmp_path, [*entry(), {"id": 2, "name": "b", "status": "paused"}])
    fixtures = load_fixtures(root)
    assert fixtures.campaigns.items[1]["status"] == "paused"
    assert fixtures.warnings == [
        Problem(
            root / "campaigns.json",
            "unknown status 'paused' (known: draft, active)",
            pointer="/1/status",
        )
    ]


def test_campaigns__the_ready_answer_is_the_items_encoded_once(tmp_path: Path) -> None:
    campaigns = load_fixtures(folder(tmp_path, [FULL, {"id": 1, "name": "Ünïcode ✓"}])).campaigns
    assert campaigns.body == encode(list(campaigns.items))
    assert campaigns.etag == etag_of(campaigns.body)
    assert campaigns.gzipped == gzip_of(campaigns.body)


def test_campaigns__of_takes_complete_campaigns_as_they_are() -> None:
    made = Campaigns.of([FULL], source="campaigns.json")
    assert made.items == (FULL,)
    assert made.source == "campaigns.json"
    assert made.get(7) == FULL
    assert made.body == encode([FULL])
    assert Campaigns.of([]).source == "derived"
