from __future__ import annotations

import pytest

from leads_proxy.mock.prefer import Preferences, PreferError, parse_prefer


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], Preferences()),
        (["example=empty"], Preferences(example="empty")),
        (['example="empty"'], Preferences(example="empty")),
        (["Code=429"], Preferences(code=429)),
        (["dynamic=TRUE; seed=7; count=3"], Preferences(dynamic=True, seed=7, count=3)),
        (["delay=10", "example=x"], Preferences(example="x", delay_ms=10)),
        (["respond-async, wait=5, return=minimal"], Preferences()),
        (["dynamic=false, example=x"], Preferences(example="x")),
        ([" , ;example=a"], Preferences(example="a")),
    ],
)
def test_parse_prefer__reads(headers: list[str], expected: Preferences) -> None:
    assert parse_prefer(headers) == expected


@pytest.mark.parametrize(
    "header",
    ["code=302", "code=", "delay=1.5", "seed=-1", "count=10001", "dynamic=yes", "delay=٣"],
)
def test_parse_prefer__refuses(header: str) -> None:
    with pytest.raises(PreferError):
        parse_prefer([header])


def test_applied__says_what_was_used() -> None:
    prefs = Preferences(dynamic=True, seed=1, count=5, delay_ms=20)
    assert prefs.applied() == "dynamic=true, count=5, seed=1, delay=20"
    assert Preferences().applied() == ""
