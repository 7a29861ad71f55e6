from __future__ import annotations

import json
from pathlib import Path

import pytest

from leads_proxy.fixtures.files import FixtureError, Problem, check_fixtures, load_fixtures
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from tests.support import BUNDLED


def test_load__bundled_fixtures_with_their_ready_bodies() -> None:
    fixtures = load_fixtures(BUNDLED)
    assert fixtures.names() == ["default", "documented", "empty", "large"]
    default = fixtures.default
    assert json.loads(default.body) == json.loads((BUNDLED / "leads" / "default.json").read_text())
    assert default.etag.startswith(b'"')
    assert default.etag.endswith(b'"')
    assert fixtures.warnings == []


def test_load__generated_example_is_made_once_on_first_use() -> None:
    fixtures = load_fixtures(BUNDLED)
    assert "large" not in fixtures.files
    large = fixtures.get("large")
    assert large is not None
    assert len(large.leads) == 10_000
    assert fixtures.get("large") is large


def test_load__a_file_named_like_a_generated_example_wins(tmp_path: Path) -> None:
    (tmp_path / "leads").mkdir()
    for name in ("default", "large"):
        (tmp_path / "leads" / f"{name}.json").write_text(json.dumps([EXAMPLE_LEAD]))
    large = load_fixtures(tmp_path).get("large")
    assert large is not None
    assert len(large.leads) == 1


def test_load__reports_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    leads = tmp_path / "leads"
    leads.mkdir()
    (leads / "default.json").write_text("[1,")
    (leads / "b.json").write_text(json.dumps([{**EXAMPLE_LEAD, "campaign_id": None}]))
    (leads / "bad name.json").write_text("[]")
    with pytest.raises(FixtureError) as caught:
        load_fixtures(tmp_path)
    problems = caught.value.problems
    assert [str(problem).split(": ", 1)[1] for problem in problems] == [
        "/0/campaign_id: expected a valid integer, got null",
        "bad example name: use letters, digits, '.', '_' and '-'",
        "malformed JSON: Expecting value",
    ]
    assert problems[2].line == 1
    assert problems[2].column == 4


def test_problem__prints_file_place_and_expectation() -> None:
    problem = Problem(Path("f.json"), "expected x", pointer="/a~1b/0")
    assert str(problem) == "f.json: /a~1b/0: expected x"
    assert str(Problem(Path("f.json"), "bad", line=3, column=9)) == "f.json:3:9: bad"


def test_check__unknown_statuses_are_warnings_with_pointers(tmp_path: Path) -> None:
    (tmp_path / "leads").mkdir()
    lead = {**EXAMPLE_LEAD, "status": "voicemail"}
    lead["secondary_contacts"] = [{**EXAMPLE_LEAD["secondary_contacts"][0], "status": "odd"}]
    (tmp_path / "leads" / "default.json").write_text(json.dumps([EXAMPLE_LEAD, lead]))
    problems, warnings = check_fixtures(tmp_path)
    assert problems == []
    assert [warning.pointer for warning in warnings] == [
        "/1/status",
        "/1/secondary_contacts/0/status",
    ]


def test_load__extra_fields_are_kept_and_served(tmp_path: Path) -> None:
    (tmp_path / "leads").mkdir()
    lead = {**EXAMPLE_LEAD, "notes": "a field the doc does not list"}
    (tmp_path / "leads" / "default.json").write_text(json.dumps([lead]))
    assert json.loads(load_fixtures(tmp_path).default.body) == [lead]
