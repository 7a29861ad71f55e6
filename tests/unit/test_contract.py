from __future__ import annotations

import copy
from typing import Any

import pytest

from leads_proxy.commands.contract import Finding, check_answer, fixture_shape
from leads_proxy.fixtures.schema import EXAMPLE_LEAD


def leads(count: int = 3) -> list[dict[str, Any]]:
    return [{**copy.deepcopy(EXAMPLE_LEAD), "id": n} for n in range(1, count + 1)]


def renamed(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for lead in data:
        lead["phone"] = lead.pop("phone_number")
    return data


def string_ids(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for lead in data:
        lead["id"] = str(lead["id"])
    return data


def new_status(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    data[0]["status"] = "voicemail"
    return data


def new_field(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for lead in data:
        lead["tags"] = ["vip"]
    return data


def bad_formats(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    data[0]["phone_number"] = "0555 123 456"
    data[1]["secondary_contacts"][0]["created_at"] = "2025-06-30T11:18:04Z"
    return data


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(leads(), [], id="as-documented"),
        pytest.param(
            renamed(leads()),
            [
                Finding("missing-field", "/*/phone_number", True, "documented, but missing", 3),
                Finding(
                    "new-field", "/*/phone", False, "not documented nor in the fixtures (string)", 3
                ),
            ],
            id="renamed-field",
        ),
        pytest.param(
            string_ids(leads()),
            [Finding("type-change", "/*/id", True, "expected integer, got string", 3)],
            id="string-id",
        ),
        pytest.param(
            {"current_page": 1, "data": leads(), "total": 3},
            [Finding("envelope", "", True, "a bare array is documented; got a paginator")],
            id="paginated-envelope",
        ),
        pytest.param(
            new_status(leads()),
            [Finding("unknown-status", "/*/status", False, "unknown status 'voicemail'")],
            id="new-status",
        ),
        pytest.param(
            new_field(leads()),
            [
                Finding(
                    "new-field", "/*/tags", False, "not documented nor in the fixtures (array)", 3
                )
            ],
            id="new-optional-field",
        ),
        pytest.param(
            bad_formats(leads()),
            [
                Finding("phone-format", "/*/phone_number", True, "not an E.164 phone number"),
                Finding(
                    "timestamp-format",
                    "/*/secondary_contacts/*/created_at",
                    True,
                    "not YYYY-MM-DD HH:MM:SS",
                ),
            ],
            id="formats",
        ),
        pytest.param(
            {"message": "Unauthenticated."},
            [Finding("envelope", "", True, "expected an array of leads, got object")],
            id="not-leads",
        ),
    ],
)
def test_check_answer__finds_and_classes_drift(answer: Any, expected: list[Finding]) -> None:
    assert check_answer(answer) == expected


def test_check_answer__the_reverse_envelope_when_a_paginator_is_expected() -> None:
    assert check_answer(leads(), expect="paginated")[0].kind == "envelope"
    assert check_answer({"data": leads()}, expect="paginated") == []


def test_check_answer__fields_the_fixtures_use_are_part_of_the_contract() -> None:
    fixture = new_field(leads(1))
    shape = fixture_shape([fixture])
    assert check_answer(new_field(leads()), shape=shape) == []  # known from the fixtures
    assert check_answer(leads(), shape=shape) == [
        Finding("missing-field", "/*/tags", True, "in the fixtures, but missing", 3)
    ]
