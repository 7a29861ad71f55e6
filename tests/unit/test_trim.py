"""PHP's trim(), as Laravel's TrimStrings applies it to query values: only space,
\\t, \\n, \\r, \\0 and \\x0B, never the rest of what Python's str.strip() takes."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from leads_proxy.http.canonical import canonical_query, php_trim
from leads_proxy.mock.query import LeadsQuery, QueryError, parse_query

# (raw query value, what PHP's trim leaves of it once decoded)
CASES = [
    pytest.param("%0C5", "\x0c5", id="form-feed-kept"),
    pytest.param("5%C2%A0", "5\xa0", id="no-break-space-kept"),
    pytest.param("%E2%80%835", "\u20035", id="em-space-kept"),
    pytest.param("%1C5%1F", "\x1c5\x1f", id="separators-kept"),
    pytest.param("%E2%80%A85", "\u20285", id="line-separator-kept"),
    pytest.param("%005", "5", id="nul-trimmed"),
    pytest.param("%0B5", "5", id="vertical-tab-trimmed"),
    pytest.param("+%09%0A%0D5%20%00", "5", id="space-tab-lf-cr-trimmed"),
    pytest.param("5%00x", "5\x00x", id="inside-kept"),
    pytest.param("%20%00", "", id="blank"),
]


def pairs(query: str) -> list[tuple[str, str]]:
    """A raw query's pairs as the mock reads them (Incoming.query_pairs)."""
    return parse_qsl(query, keep_blank_values=True)


def decoded(raw: str) -> str:
    ((_, value),) = pairs(f"v={raw}")
    return value


@pytest.mark.parametrize(("raw", "trimmed"), CASES)
def test_php_trim__strips_only_what_php_strips(raw: str, trimmed: str) -> None:
    assert php_trim(decoded(raw)) == trimmed


@pytest.mark.parametrize(
    ("raw", "per_page"),
    [
        pytest.param("%005", 5, id="nul"),
        pytest.param("%0B5%20", 5, id="vertical-tab"),
        pytest.param("%20%00", None, id="blank-is-absent"),
    ],
)
def test_parse_query__trims_as_php_then_validates(raw: str, per_page: int | None) -> None:
    assert parse_query(pairs(f"per_page={raw}")).per_page == per_page


@pytest.mark.parametrize("raw", ["%0C5", "5%C2%A0", "%E2%80%835", "%1C5"])
def test_parse_query__what_php_keeps_is_not_an_integer(raw: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(pairs(f"per_page={raw}"))
    assert caught.value.errors == {"per_page": ["The per page field must be an integer."]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("%0Ccreated", "\x0ccreated", id="form-feed-kept"),
        pytest.param("created%00+", "created", id="nul-trimmed"),
    ],
)
def test_parse_query__filters_are_trimmed_as_php_trims(raw: str, expected: str) -> None:
    assert parse_query(pairs(f"status={raw}")).status == expected


def test_parse_query__a_blank_last_value_wins_as_null() -> None:
    # PHP keeps the last value; TrimStrings and ConvertEmptyStringsToNull make it null.
    assert parse_query([("page", "3"), ("page", " \x00")]) == LeadsQuery()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param("per_page=%005", "per_page=5", id="nul"),
        pytest.param("per_page=%0B5+%09%0A%0D", "per_page=5", id="vtab-space-tab-lf-cr"),
        pytest.param("status=%20", "status=", id="blank-is-empty"),
        pytest.param("ids[]=%201&ids[]=2%00", "ids[]=1&ids[]=2", id="array-items"),
    ],
)
def test_canonical_query__php_trimmed_values_share_a_spelling(one: str, other: str) -> None:
    assert canonical_query(one) == canonical_query(other)


@pytest.mark.parametrize(
    "raw", ["per_page=%0C5", "per_page=5%C2%A0", "per_page=%E2%80%835", "per_page=%1F5"]
)
def test_canonical_query__what_php_keeps_stays_apart(raw: str) -> None:
    assert canonical_query(raw) != canonical_query("per_page=5")
    assert canonical_query(canonical_query(raw)) == canonical_query(raw)
