from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.record import Recorder, example_name
from app.schema import EXAMPLE_LEAD

BODY = json.dumps([EXAMPLE_LEAD]).encode()


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("", "recorded"),
        ("status=completed", "recorded-status-completed"),
        (
            "campaign_id=2&status=reached-max-retries",
            "recorded-campaign-id-2-status-reached-max-retries",
        ),
        ("phone_number=%2B1555", "recorded-phone-number-1555"),
    ],
)
def test_example_name(query: str, name: str) -> None:
    assert example_name(query) == name


def test_example_name__long_queries_stay_short_and_distinct() -> None:
    one, two = example_name("status=" + "a" * 200), example_name("status=" + "a" * 199 + "b")
    assert one != two
    assert len(one) <= 70


@pytest.mark.parametrize(("as_default", "replaced"), [(False, False), (True, True)])
def test_recorder__default_is_replaced_only_when_asked(
    tmp_path: Path, as_default: bool, replaced: bool
) -> None:
    (tmp_path / "leads").mkdir()
    (tmp_path / "leads" / "default.json").write_text("[]\n")
    Recorder(tmp_path, as_default=as_default).record("", BODY, b"1|k")
    default = json.loads((tmp_path / "leads" / "default.json").read_text())
    assert (default == [EXAMPLE_LEAD]) is replaced


def test_recorder__a_paginated_answer_is_recorded_as_its_leads(tmp_path: Path) -> None:
    body = json.dumps({"current_page": 1, "data": [EXAMPLE_LEAD], "total": 1}).encode()
    path = Recorder(tmp_path).record("page=1", body, b"1|k")
    assert path is not None
    assert json.loads(path.read_text()) == [EXAMPLE_LEAD]
