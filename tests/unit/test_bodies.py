"""The bodies of lead writes: Laravel's rules and words, the middleware before them, the bounds."""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from leads_proxy.mock.bodies import (
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    MAX_PHONE_LENGTH,
    MAX_SECONDARY_CONTACTS,
    MAX_STRING_LENGTH,
    MAX_VARIABLES,
    UPDATABLE_STATUSES,
    Invalid,
    LeadChanges,
    NewContact,
    NewLead,
    e164,
    lead_changes,
    new_lead,
)
from leads_proxy.mock.query import MAX_WHOLE_NUMBER, QueryError

UAE = "+971501234567"
US = "+14155552671"
LEAD: dict[str, Any] = {"phone_number": UAE, "campaign_id": 7}  # the least a create needs
CREATED = NewLead(
    phone_number=UAE, campaign_id=7, variables={}, allow_duplicate=False, secondary_contacts=()
)
UNCHANGED = LeadChanges(campaign_id=None, phone_number=None, status=None, variables=None)
BETWEEN = "The campaign id field must be between 1 and 999999999999999999."
NOT_AN_INTEGER = "The campaign id field must be an integer."
NOT_AN_ARRAY = "The variables field must be an array."
NOT_NAMED = "The variables field must be an object with named keys, not a list."
NOT_A_BOOLEAN = "The allow dupplicate field must be true or false."
BAD_STATUS = "The selected status is invalid."


def nested(levels: int) -> dict[str, Any]:
    """`levels` objects, each inside the one before: {"a": {"a": ... {}}}."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def invalid(data: dict[str, Any], *, update: bool = False) -> Invalid:
    """What creating (or updating) with `data` is refused with."""
    write: Callable[[dict[str, Any]], object] = lead_changes if update else new_lead
    with pytest.raises(Invalid) as caught:
        write(data)
    return caught.value


def refused(data: dict[str, Any], *, update: bool = False) -> dict[str, list[str]]:
    """The errors that creating (or updating) with `data` is refused with."""
    return invalid(data, update=update).errors


def rows(field: str, message: str, cases: list[tuple[str, Any]]) -> list[Any]:
    """A row for each (id, value): a create with `field` given so is refused with `message`."""
    return [
        pytest.param({**LEAD, field: given}, {field: [message]}, id=f"{field}-{name}")
        for name, given in cases
    ]


# Create: what is accepted, and what it becomes.


@pytest.mark.parametrize(
    ("data", "changes"),
    [
        pytest.param(LEAD, {}, id="the-least"),
        pytest.param({**LEAD, "phone_number": "+971 50 123 4567"}, {}, id="phone-made-e164"),
        pytest.param(
            {"phone_number": " \t+1 (415) 555-2671\n\0", "campaign_id": "\x0b7 "},
            {"phone_number": US},
            id="trimmed-as-php-trims",
        ),
        pytest.param(
            {**LEAD, "variables": {"name": "Ann"}}, {"variables": {"name": "Ann"}}, id="vars"
        ),
        pytest.param({**LEAD, "variables": []}, {}, id="vars-empty-list-is-an-empty-object"),
        pytest.param({**LEAD, "variables": {}}, {}, id="vars-empty-object"),
        pytest.param({**LEAD, "variables": None}, {}, id="vars-null"),
        pytest.param({**LEAD, "variables": " "}, {}, id="vars-blank-is-null"),
        pytest.param(
            {
                **LEAD,
                "variables": {
                    "name": " Ann ",
                    "note": " \t",
                    "tags": [" a ", "", 3],
                    "more": {"city": "\tDubai", "zip": ""},
                    "age": 30,
                    "score": 1.5,
                    "vip": True,
                    "none": None,
                },
            },
            {
                "variables": {
                    "name": "Ann",
                    "note": None,
                    "tags": ["a", None, 3],
                    "more": {"city": "Dubai", "zip": None},
                    "age": 30,
                    "score": 1.5,
                    "vip": True,
                    "none": None,
                }
            },
            id="vars-trimmed-and-nulled-throughout",
        ),
        pytest.param({**LEAD, "variables": {" k ": 1}}, {"variables": {" k ": 1}}, id="keys-kept"),
        pytest.param(
            {**LEAD, "variables": {"s": " " + "x" * MAX_STRING_LENGTH + " "}},
            {"variables": {"s": "x" * MAX_STRING_LENGTH}},
            id="vars-string-measured-once-trimmed",
        ),
        pytest.param({**LEAD, "allow_dupplicate": True}, {"allow_duplicate": True}, id="allow"),
        pytest.param({**LEAD, "allow_duplicate": True}, {}, id="allow-spelled-right-is-unknown"),
        pytest.param(
            {
                **LEAD,
                "secondary_contacts": [
                    {"phone_number": " +1 (415) 555-2671", "variables": {"role": " boss "}},
                    {"phone_number": UAE, "variables": []},
                    {"phone_number": UAE, "variables": None, "status": "ignored"},
                ],
            },
            {
                "secondary_contacts": (
                    NewContact(phone_number=US, variables={"role": "boss"}),
                    NewContact(phone_number=UAE, variables={}),
                    NewContact(phone_number=UAE, variables={}),
                )
            },
            id="secondary-contacts",
        ),
        pytest.param({**LEAD, "secondary_contacts": []}, {}, id="secondary-contacts-empty"),
        pytest.param({**LEAD, "secondary_contacts": {}}, {}, id="secondary-contacts-empty-object"),
        pytest.param({**LEAD, "secondary_contacts": None}, {}, id="secondary-contacts-null"),
        pytest.param({**LEAD, "secondary_contacts": ""}, {}, id="secondary-contacts-blank"),
        pytest.param(
            {**LEAD, "secondary_contacts": [{"phone_number": US}] * MAX_SECONDARY_CONTACTS},
            {"secondary_contacts": (NewContact(US, {}),) * MAX_SECONDARY_CONTACTS},
            id="secondary-contacts-at-their-bound",
        ),
        pytest.param(
            {**LEAD, "id": "x", "status": 5, "campaign": {"id": []}, "created_at": None},
            {},
            id="unknown-keys-ignored",
        ),
    ],
)
def test_new_lead__accepts(data: dict[str, Any], changes: dict[str, Any]) -> None:
    assert new_lead(data) == dataclasses.replace(CREATED, **changes)


def test_new_lead__leaves_the_decoded_body_as_it_was() -> None:
    data = {
        "phone_number": " +971501234567 ",
        "campaign_id": " 7 ",
        "variables": {"a": [" b ", {"c": ""}]},
        "secondary_contacts": [{"phone_number": f" {US} ", "variables": {"d": " "}}],
    }
    before = copy.deepcopy(data)
    new_lead(data)
    assert data == before


# Create: each rule's message.


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        pytest.param(
            {},
            {
                "phone_number": ["The phone number field is required."],
                "campaign_id": ["The campaign id field is required."],
            },
            id="nothing",
        ),
        *rows(
            "phone_number",
            "The phone number field is required.",
            [("null", None), ("empty", ""), ("blank", " \t\n"), ("[]", []), ("{}", {})],
        ),
        *rows(
            "phone_number",
            "The phone number field must be a string.",
            [("number", 971501234567), ("true", True), ("list", [UAE])],
        ),
        *rows(
            "phone_number",
            "Invalid phone number",
            [("national", "0501234567"), ("short", "+999"), ("words", "call me")],
        ),
        pytest.param(
            {"phone_number": UAE},
            {"campaign_id": ["The campaign id field is required."]},
            id="campaign_id-absent",
        ),
        *rows(
            "campaign_id",
            "The campaign id field is required.",
            [("null", None), ("blank", " "), ("[]", []), ("{}", {})],
        ),
        pytest.param({**LEAD, "variables": "x"}, {"variables": [NOT_AN_ARRAY]}, id="vars-string"),
        pytest.param({**LEAD, "variables": 5}, {"variables": [NOT_AN_ARRAY]}, id="vars-number"),
        pytest.param({**LEAD, "variables": False}, {"variables": [NOT_AN_ARRAY]}, id="vars-false"),
        pytest.param({**LEAD, "variables": ["a"]}, {"variables": [NOT_NAMED]}, id="vars-list"),
        pytest.param(
            {**LEAD, "variables": [{"a": 1}]}, {"variables": [NOT_NAMED]}, id="vars-objects"
        ),
        *[
            pytest.param(
                {**LEAD, "secondary_contacts": given},
                {"secondary_contacts": ["The secondary contacts field must be an array."]},
                id=f"secondary-contacts-{name}",
            )
            for name, given in [("string", "x"), ("number", 5), ("true", True)]
        ],
        pytest.param(
            {**LEAD, "secondary_contacts": {"boss": {"phone_number": US}}},
            {"secondary_contacts": ["The secondary contacts field must be a list."]},
            id="secondary-contacts-object",
        ),
        pytest.param(
            {**LEAD, "secondary_contacts": [{"phone_number": US}] * (MAX_SECONDARY_CONTACTS + 1)},
            {
                "secondary_contacts": [
                    "The secondary contacts field must not have more than 100 items."
                ]
            },
            id="secondary-contacts-past-their-bound",
        ),
        *[
            pytest.param(
                {**LEAD, "secondary_contacts": [{"phone_number": US}, given]},
                {"secondary_contacts.1.phone_number": [message]},
                id=f"secondary-contact-{name}",
            )
            for name, given, message in [
                ("empty", {}, "The secondary contacts.1.phone number field is required."),
                ("a-string", UAE, "The secondary contacts.1.phone number field is required."),
                ("null", None, "The secondary contacts.1.phone number field is required."),
                ("a-list", [UAE], "The secondary contacts.1.phone number field is required."),
                (
                    "phone-blank",
                    {"phone_number": "  "},
                    "The secondary contacts.1.phone number field is required.",
                ),
                (
                    "phone-number",
                    {"phone_number": 5},
                    "The secondary contacts.1.phone number field must be a string.",
                ),
                ("phone-invalid", {"phone_number": "+999"}, "Invalid phone number"),
            ]
        ],
        pytest.param(
            {**LEAD, "secondary_contacts": [{"phone_number": US, "variables": "x"}]},
            {
                "secondary_contacts.0.variables": [
                    "The secondary contacts.0.variables field must be an array."
                ]
            },
            id="secondary-contact-vars-string",
        ),
        pytest.param(
            {**LEAD, "secondary_contacts": [{"phone_number": US, "variables": [1]}]},
            {
                "secondary_contacts.0.variables": [
                    "The secondary contacts.0.variables field must be an object with named keys,"
                    " not a list."
                ]
            },
            id="secondary-contact-vars-list",
        ),
    ],
)
def test_new_lead__refuses(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    assert refused(data) == errors


def test_new_lead__reports_every_field_at_once_in_the_order_of_laravels_rules() -> None:
    # Laravel expands each `secondary_contacts.*` rule in its turn, after the plain ones.
    error = refused(
        {
            "secondary_contacts": [{"variables": 1}, {}],
            "allow_dupplicate": "yes",
            "variables": "x",
            "campaign_id": 0,
            "phone_number": "+999",
        }
    )
    assert list(error.items()) == [
        ("phone_number", ["Invalid phone number"]),
        ("campaign_id", [BETWEEN]),
        ("variables", [NOT_AN_ARRAY]),
        ("allow_dupplicate", [NOT_A_BOOLEAN]),
        (
            "secondary_contacts.0.phone_number",
            ["The secondary contacts.0.phone number field is required."],
        ),
        (
            "secondary_contacts.1.phone_number",
            ["The secondary contacts.1.phone number field is required."],
        ),
        (
            "secondary_contacts.0.variables",
            ["The secondary contacts.0.variables field must be an array."],
        ),
    ]


def test_new_lead__past_the_contacts_bound_the_contacts_are_not_each_checked() -> None:
    started = time.perf_counter()
    errors = refused({**LEAD, "secondary_contacts": [{"phone_number": "+999"}] * 100_000})
    assert errors == {
        "secondary_contacts": ["The secondary contacts field must not have more than 100 items."]
    }
    assert time.perf_counter() - started < 1.0


# Coercions: integers as FILTER_VALIDATE_INT reads them, booleans as Laravel's list.


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(7, 7, id="json-integer"),
        pytest.param("7", 7, id="string"),
        pytest.param(" 7\n", 7, id="string-trimmed"),
        pytest.param("+7", 7, id="plus-sign"),
        pytest.param(1, 1, id="smallest"),
        pytest.param(MAX_WHOLE_NUMBER, MAX_WHOLE_NUMBER, id="largest"),
        pytest.param(str(MAX_WHOLE_NUMBER), MAX_WHOLE_NUMBER, id="largest-string"),
    ],
)
def test_campaign_id__accepts(given: Any, expected: int) -> None:
    assert new_lead({**LEAD, "campaign_id": given}).campaign_id == expected
    assert lead_changes({"campaign_id": given}).campaign_id == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param("abc", NOT_AN_INTEGER, id="word"),
        pytest.param("7.5", NOT_AN_INTEGER, id="decimal-string"),
        pytest.param("7.0", NOT_AN_INTEGER, id="whole-decimal-string"),
        pytest.param("1e3", NOT_AN_INTEGER, id="exponent"),
        pytest.param("007", NOT_AN_INTEGER, id="leading-zeros"),
        pytest.param("0x1A", NOT_AN_INTEGER, id="hex"),
        pytest.param("٣", NOT_AN_INTEGER, id="arabic-digit"),
        pytest.param("7 7", NOT_AN_INTEGER, id="inner-space"),
        pytest.param("--7", NOT_AN_INTEGER, id="two-signs"),
        pytest.param(7.5, NOT_AN_INTEGER, id="json-fraction"),  # 7.0 is read as 7, as PHP does
        pytest.param(True, NOT_AN_INTEGER, id="true"),
        pytest.param(False, NOT_AN_INTEGER, id="false"),
        pytest.param([7], NOT_AN_INTEGER, id="list"),
        pytest.param({"id": 7}, NOT_AN_INTEGER, id="object"),
        pytest.param("9223372036854775808", NOT_AN_INTEGER, id="past-php-int-max-string"),
        pytest.param(2**63, NOT_AN_INTEGER, id="past-php-int-max"),
        pytest.param(-(2**63) - 1, NOT_AN_INTEGER, id="past-php-int-min"),
        pytest.param("1" * 5000, NOT_AN_INTEGER, id="five-thousand-digits"),
        pytest.param(0, BETWEEN, id="zero"),
        pytest.param("-0", BETWEEN, id="minus-zero"),
        pytest.param(-1, BETWEEN, id="negative"),
        pytest.param(MAX_WHOLE_NUMBER + 1, BETWEEN, id="past-the-id-bound"),
        pytest.param(str(MAX_WHOLE_NUMBER + 1), BETWEEN, id="past-the-id-bound-string"),
        pytest.param(2**63 - 1, BETWEEN, id="php-int-max"),
    ],
)
def test_campaign_id__refuses(given: Any, message: str) -> None:
    assert refused({**LEAD, "campaign_id": given}) == {"campaign_id": [message]}
    assert refused({"campaign_id": given}, update=True) == {"campaign_id": [message]}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param(1, True, id="one"),
        pytest.param(0, False, id="zero"),
        pytest.param("1", True, id="one-string"),
        pytest.param("0", False, id="zero-string"),
        pytest.param(" 1\t", True, id="one-string-trimmed"),
        pytest.param(None, False, id="null"),
        pytest.param("", False, id="empty-is-null"),
    ],
)
def test_allow_dupplicate__accepts(given: Any, expected: bool) -> None:
    assert new_lead({**LEAD, "allow_dupplicate": given}).allow_duplicate is expected


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("true", id="true-string"),
        pytest.param("false", id="false-string"),
        pytest.param("yes", id="yes"),
        pytest.param("on", id="on"),
        pytest.param("01", id="zero-one"),
        pytest.param(2, id="two"),
        pytest.param(-1, id="minus-one"),
        pytest.param(1.0, id="float-one"),
        pytest.param(0.0, id="float-zero"),
        pytest.param([], id="empty-list"),
        pytest.param({}, id="empty-object"),
        pytest.param([True], id="list"),
    ],
)
def test_allow_dupplicate__refuses(given: Any) -> None:
    assert refused({**LEAD, "allow_dupplicate": given}) == {"allow_dupplicate": [NOT_A_BOOLEAN]}


# The bounds on variables, wherever variables are written.

PLACES = {
    "create": "variables",
    "update": "variables",
    "secondary-contact": "secondary_contacts.0.variables",
}


def written(place: str, variables: Any) -> dict[str, Any] | None:
    """The variables a write with `variables` at `place` keeps (Invalid when refused)."""
    if place == "create":
        return new_lead({**LEAD, "variables": variables}).variables
    if place == "update":
        return lead_changes({"variables": variables}).variables
    lead = new_lead({**LEAD, "secondary_contacts": [{"phone_number": US, "variables": variables}]})
    return lead.secondary_contacts[0].variables


BOUNDS = [
    pytest.param(
        {f"v{i}": i for i in range(MAX_VARIABLES)},
        {f"v{i}": i for i in range(MAX_VARIABLES + 1)},
        "The variables field must not have more than 200 items.",
        id="variables",
    ),
    pytest.param(
        {"o": {f"v{i}": i for i in range(MAX_VARIABLES)}},
        {"o": {f"v{i}": i for i in range(MAX_VARIABLES + 1)}},
        "The variables field must not hold objects or lists of more than 200 items.",
        id="items-of-an-inner-object",
    ),
    pytest.param(
        {"l": list(range(MAX_VARIABLES))},
        {"l": list(range(MAX_VARIABLES + 1))},
        "The variables field must not hold objects or lists of more than 200 items.",
        id="items-of-an-inner-list",
    ),
    pytest.param(
        {"k" * MAX_KEY_LENGTH: 1},
        {"k" * (MAX_KEY_LENGTH + 1): 1},
        "The variables field must not have keys longer than 255 characters.",
        id="key",
    ),
    pytest.param(
        {"l": [{"k" * MAX_KEY_LENGTH: 1}]},
        {"l": [{"k" * (MAX_KEY_LENGTH + 1): 1}]},
        "The variables field must not have keys longer than 255 characters.",
        id="inner-key",
    ),
    pytest.param(
        {"s": "x" * MAX_STRING_LENGTH},
        {"s": "x" * (MAX_STRING_LENGTH + 1)},
        "The variables field must not hold strings longer than 10000 characters.",
        id="string",
    ),
    pytest.param(
        {"s": [[{"t": "é" * MAX_STRING_LENGTH}]]},
        {"s": [[{"t": "é" * (MAX_STRING_LENGTH + 1)}]]},
        "The variables field must not hold strings longer than 10000 characters.",
        id="inner-string-in-characters",
    ),
    pytest.param(
        nested(MAX_DEPTH),
        nested(MAX_DEPTH + 1),
        "The variables field must not be nested more than 16 levels deep.",
        id="depth",
    ),
    pytest.param(
        {"a": [[nested(MAX_DEPTH - 3)]]},
        {"a": [[nested(MAX_DEPTH - 2)]]},
        "The variables field must not be nested more than 16 levels deep.",
        id="depth-through-lists",
    ),
    pytest.param(
        nested(MAX_DEPTH),
        nested(100_000),  # past what a JSON decoder would build, and past Python's recursion limit
        "The variables field must not be nested more than 16 levels deep.",
        id="depth-far-past",
    ),
]


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize(("at_the_bound", "past_it", "message"), BOUNDS)
def test_variables__bounded(place: str, at_the_bound: Any, past_it: Any, message: str) -> None:
    assert written(place, at_the_bound) == at_the_bound
    field = PLACES[place]
    with pytest.raises(Invalid) as caught:
        written(place, past_it)
    label = field.replace("_", " ")
    assert caught.value.errors == {field: [message.replace("variables", label, 1)]}


def test_variables__the_bounds_are_these() -> None:
    assert (MAX_VARIABLES, MAX_KEY_LENGTH, MAX_DEPTH, MAX_STRING_LENGTH) == (200, 255, 16, 10_000)
    assert (MAX_SECONDARY_CONTACTS, MAX_PHONE_LENGTH) == (100, 64)


# Update: every field optional, a field given as null fails its type rule.


@pytest.mark.parametrize(
    ("data", "changes"),
    [
        pytest.param({}, {}, id="nothing"),
        pytest.param({"campaign_id": " 9 "}, {"campaign_id": 9}, id="campaign-id"),
        pytest.param({"phone_number": "+1 (415) 555-2671"}, {"phone_number": US}, id="phone"),
        *[
            pytest.param({"status": status}, {"status": status}, id=f"status-{status}")
            for status in UPDATABLE_STATUSES
        ],
        pytest.param({"status": " completed\n"}, {"status": "completed"}, id="status-trimmed"),
        pytest.param({"variables": {"a": " b "}}, {"variables": {"a": "b"}}, id="vars"),
        pytest.param({"variables": []}, {"variables": {}}, id="vars-empty-list-is-an-empty-object"),
        pytest.param({"variables": {}}, {"variables": {}}, id="vars-empty-object"),
        pytest.param(
            {"campaign_id": 3, "phone_number": UAE, "status": "created", "variables": {"x": 1}},
            {"campaign_id": 3, "phone_number": UAE, "status": "created", "variables": {"x": 1}},
            id="everything",
        ),
        pytest.param(
            {"allow_dupplicate": "nonsense", "secondary_contacts": 5, "id": None},
            {},
            id="unknown-keys-ignored",
        ),
    ],
)
def test_lead_changes__accepts(data: dict[str, Any], changes: dict[str, Any]) -> None:
    assert lead_changes(data) == dataclasses.replace(UNCHANGED, **changes)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        pytest.param(
            {"campaign_id": None}, {"campaign_id": [NOT_AN_INTEGER]}, id="campaign-id-null"
        ),
        pytest.param(
            {"campaign_id": ""}, {"campaign_id": [NOT_AN_INTEGER]}, id="campaign-id-empty"
        ),
        *[
            pytest.param(
                {"phone_number": given},
                {"phone_number": ["The phone number field must be a string."]},
                id=f"phone-{name}",
            )
            for name, given in [("null", None), ("blank", "  "), ("number", 5), ("list", [US])]
        ],
        pytest.param(
            {"phone_number": "+999"}, {"phone_number": ["Invalid phone number"]}, id="phone"
        ),
        *[
            pytest.param({"status": given}, {"status": [BAD_STATUS]}, id=f"status-{name}")
            for name, given in [
                ("null", None),
                ("empty", ""),
                ("unknown", "deleted"),
                ("calling", "calling"),
                ("capitalised", "Completed"),
                ("number", 1),
                ("list", ["created"]),
            ]
        ],
        *[
            pytest.param({"variables": given}, {"variables": [message]}, id=f"vars-{name}")
            for name, given, message in [
                ("null", None, NOT_AN_ARRAY),
                ("blank", " ", NOT_AN_ARRAY),
                ("string", "x", NOT_AN_ARRAY),
                ("number", 1, NOT_AN_ARRAY),
                ("list", ["a", "b"], NOT_NAMED),
            ]
        ],
        pytest.param(
            {"variables": None, "status": None, "phone_number": None, "campaign_id": None},
            {
                "campaign_id": [NOT_AN_INTEGER],
                "phone_number": ["The phone number field must be a string."],
                "status": [BAD_STATUS],
                "variables": [NOT_AN_ARRAY],
            },
            id="everything-null-in-the-order-of-the-rules",
        ),
    ],
)
def test_lead_changes__refuses(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    assert list(refused(data, update=True).items()) == list(errors.items())


# The error: Laravel's message and body.


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"campaign_id": 7}, "The phone number field is required.", id="one"),
        pytest.param({}, "The phone number field is required. (and 1 more error)", id="two"),
        pytest.param(
            {"variables": 1}, "The phone number field is required. (and 2 more errors)", id="three"
        ),
    ],
)
def test_invalid__message_is_the_first_error_and_a_count_of_the_rest(
    data: dict[str, Any], message: str
) -> None:
    error = invalid(data)
    assert error.message == str(error) == message
    assert error.body()["message"] == message


@pytest.mark.parametrize(
    ("data", "update"),
    [
        pytest.param({**LEAD, "phone_number": "0501234567"}, False, id="create"),
        pytest.param({"phone_number": "0501234567"}, True, id="update"),
    ],
)
def test_invalid__a_bad_phone_alone_is_the_platforms_own_message(
    data: dict[str, Any], update: bool
) -> None:
    assert invalid(data, update=update).body() == {
        "message": "Invalid phone number",
        "errors": {"phone_number": ["Invalid phone number"]},
    }


def test_invalid__is_a_422_query_error_with_a_json_body() -> None:
    error = invalid({"secondary_contacts": [{"phone_number": "+999", "variables": [1]}], "x": "é"})
    assert isinstance(error, QueryError)
    assert isinstance(error, ValueError)
    assert error.status == 422
    body = error.body()
    assert json.loads(json.dumps(body, allow_nan=False)) == body
    assert set(body) == {"message", "errors"}
    assert all(
        isinstance(key, str)
        and isinstance(messages, list)
        and all(isinstance(m, str) for m in messages)
        for key, messages in body["errors"].items()
    )


# Phone numbers: E.164 by phonenumbers, with no default region.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("+971 50 123 4567", UAE, id="uae-mobile-spaced"),
        pytest.param("+971501234567", UAE, id="already-e164"),
        pytest.param("+1 (415) 555-2671", US, id="us-parentheses-and-dashes"),
        pytest.param("+1.415.555.2671", US, id="dots"),
        pytest.param("+44 20 7946 0958", "+442079460958", id="london"),
        pytest.param("0501234567", None, id="national-without-a-plus"),
        pytest.param("971501234567", None, id="international-without-a-plus"),
        pytest.param("+999", None, id="no-such-country"),
        pytest.param("+1 415 555 267", None, id="too-short"),
        pytest.param("+1 415 555 26711", None, id="too-long"),
        pytest.param("+1 415 555 2671 ext. 5", None, id="extension-e164-cannot-write"),
        pytest.param("", None, id="empty"),
        pytest.param("+", None, id="plus-alone"),
        pytest.param("call me", None, id="words"),
        pytest.param(
            "+1" + " " * (MAX_PHONE_LENGTH - 12) + "4155552671", US, id="at-the-length-bound"
        ),
        pytest.param("+1" + " " * (MAX_PHONE_LENGTH - 11) + "4155552671", None, id="past-it"),
        pytest.param("+" + "1" * 10_000, None, id="ten-thousand-characters"),
    ],
)
def test_e164(text: str, expected: str | None) -> None:
    assert e164(text) == expected


def test_e164__refuses_ten_thousand_characters_quickly() -> None:
    text = "+1 415 555 2671" + " " * 10_000
    started = time.perf_counter()
    assert all(e164(text) is None for _ in range(1000))
    assert time.perf_counter() - started < 1.0
