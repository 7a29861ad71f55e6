"""The bodies of lead writes, validated as the parent platform's Laravel app validates them.

`new_lead` reads the body of `POST /user/lead`, `lead_changes` that of
`PUT /user/leads/{id}`; each returns typed inputs or raises `Invalid`, the 422
Laravel answers. As Laravel does:

- every string the rules read, nested ones too, is trimmed as PHP's `trim`
  trims (TrimStrings), then is null when empty (ConvertEmptyStringsToNull);
- every field is validated, and all their errors are reported at once in the
  order of the rules (a `secondary_contacts.*` rule expanded in its turn, after
  the plain ones), keyed by the dotted field name; a message names the field
  with spaces for underscores (`secondary contacts.0.phone number`);
- keys no rule names are ignored.

Laravel reports every failing rule of a field (unless `bail`); here a field
reports only its first, which for these rules is the one that says what is
wrong (a value that is not a string is no phone number either).

Past Laravel's rules: a phone number that is a string but not a valid number
is the platform's own "Invalid phone number"; `variables` must be an object
(named keys), bounded against hostile input by the MAX_ constants below; and
past MAX_SECONDARY_CONTACTS the contacts are not each checked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import phonenumbers

from ..http.canonical import php_trim
from .query import MAX_WHOLE_NUMBER, QueryError

UPDATABLE_STATUSES = ("created", "completed", "reached-max-retries")
MAX_SECONDARY_CONTACTS = 100
MAX_VARIABLES = 200  # items of the variables object, and of any object or list inside it
MAX_KEY_LENGTH = 255
MAX_DEPTH = 16  # objects and lists one inside another, the variables object the first
MAX_STRING_LENGTH = 10_000
MAX_PHONE_LENGTH = 64  # longer is refused unparsed: no number needs that much punctuation
INVALID_PHONE = "Invalid phone number"

# FILTER_VALIDATE_INT's strings: an optional sign, no leading zero; PHP_INT_MAX has 19 digits.
_PHP_INT = re.compile(r"[+-]?(?:0|[1-9][0-9]{0,18})")
_PHP_INT_MIN, _PHP_INT_MAX = -(2**63), 2**63 - 1


class Invalid(QueryError):
    """A lead body Laravel's validator refuses: a 422 whose `body()` lists each bad field."""

    status: ClassVar[int] = 422


@dataclass(frozen=True, slots=True)
class NewContact:
    """A secondary contact of a new lead; the phone number in E.164."""

    phone_number: str
    variables: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewLead:
    """A validated create; the phone number in E.164."""

    phone_number: str
    campaign_id: int
    variables: dict[str, Any]
    allow_duplicate: bool  # `allow_dupplicate` in the body, as the API spells it
    secondary_contacts: tuple[NewContact, ...]


@dataclass(frozen=True, slots=True)
class LeadChanges:
    """A validated update: None for each field not given; the phone number in E.164."""

    campaign_id: int | None
    phone_number: str | None
    status: str | None
    variables: dict[str, Any] | None  # merged into the lead's, not replacing them


def new_lead(data: dict[str, Any]) -> NewLead:
    """The create body `data` validated; Invalid listing every bad field."""
    errors: dict[str, list[str]] = {}
    phone = _check(errors, "phone_number", data.get("phone_number"), _required, _string, _phone)
    campaign_id = _check(errors, "campaign_id", data.get("campaign_id"), _required, _id)
    variables = _check(errors, "variables", data.get("variables"), _variables, nullable=True)
    allow = _check(
        errors, "allow_dupplicate", data.get("allow_dupplicate"), _boolean, nullable=True
    )
    contacts = _check(
        errors, "secondary_contacts", data.get("secondary_contacts"), _contacts, nullable=True
    )
    # Something that is not an object has no phone number: Laravel finds it missing.
    items = [
        (f"secondary_contacts.{index}", item if isinstance(item, dict) else {})
        for index, item in enumerate(contacts or ())
    ]
    phones = [
        _check(
            errors, f"{where}.phone_number", item.get("phone_number"), _required, _string, _phone
        )
        for where, item in items
    ]
    contact_variables = [
        _check(errors, f"{where}.variables", item.get("variables"), _variables, nullable=True)
        for where, item in items
    ]
    if errors:
        raise Invalid(errors)
    return NewLead(
        phone_number=phone,
        campaign_id=campaign_id,
        variables=variables or {},
        allow_duplicate=bool(allow),
        secondary_contacts=tuple(
            NewContact(phone_number=number, variables=values or {})
            for number, values in zip(phones, contact_variables, strict=True)
        ),
    )


def lead_changes(data: dict[str, Any]) -> LeadChanges:
    """The update body `data` validated, each field only if given; Invalid listing every bad one."""
    errors: dict[str, list[str]] = {}

    def given(name: str, *rules: _Rule) -> Any:
        # Laravel's `sometimes`, without `nullable`: a key given as null fails its rule.
        return _check(errors, name, data[name], *rules) if name in data else None

    changes = LeadChanges(
        campaign_id=given("campaign_id", _id),
        phone_number=given("phone_number", _string, _phone),
        status=given("status", _status),
        variables=given("variables", _variables),
    )
    if errors:
        raise Invalid(errors)
    return changes


def e164(text: str) -> str | None:
    """The number `text` in E.164 (`+971501234567`), or None when it is no valid number.

    It must start with "+" (no default region); spaces, dashes, dots and
    parentheses are taken as phonenumbers takes them. A number with an
    extension is refused: E.164 cannot write one, and dropping it would call
    the switchboard instead of the person.
    """
    if len(text) > MAX_PHONE_LENGTH:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class _Fail(Exception):
    """A rule's failure; its message is the field's error."""


# A rule takes a value and the field's label, and returns the value it stands for.
_Rule = Callable[[Any, str], Any]


def _check(
    errors: dict[str, list[str]], name: str, value: Any, *rules: _Rule, nullable: bool = False
) -> Any:
    """`value`, after the middleware, through `rules`; None, and its error noted, when one fails."""
    if isinstance(value, str):  # TrimStrings, ConvertEmptyStringsToNull (_variables goes deeper)
        value = php_trim(value) or None
    if nullable and value is None:
        return None
    label = name.replace("_", " ")
    try:
        for rule in rules:
            value = rule(value, label)
    except _Fail as fail:
        errors[name] = [str(fail)]
        return None
    return value


def _required(value: Any, label: str) -> Any:
    if value is None or (isinstance(value, dict | list) and not value):
        raise _Fail(f"The {label} field is required.")
    return value


def _string(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise _Fail(f"The {label} field must be a string.")
    return value


def _phone(value: str, label: str) -> str:
    number = e164(value)
    if number is None:
        raise _Fail(INVALID_PHONE)
    return number


def _id(value: Any, label: str) -> int:
    """`integer` (a JSON integer, or a string FILTER_VALIDATE_INT reads), bounded as ids are."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _PHP_INT.fullmatch(value):
        number = int(value)
    elif isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        number = int(value)  # PHP reads 5.0 as "5", which FILTER_VALIDATE_INT takes
    if number is None or not _PHP_INT_MIN <= number <= _PHP_INT_MAX:
        raise _Fail(f"The {label} field must be an integer.")
    if not 1 <= number <= MAX_WHOLE_NUMBER:
        raise _Fail(f"The {label} field must be between 1 and {MAX_WHOLE_NUMBER}.")
    return number


def _boolean(value: Any, label: str) -> bool:
    """`boolean`: Laravel's strict in_array of true, false, 0, 1, "0" and "1"."""
    if isinstance(value, bool):
        return value
    if (type(value) is int and value in (0, 1)) or value in ("0", "1"):
        return value in (1, "1")
    raise _Fail(f"The {label} field must be true or false.")


def _status(value: Any, label: str) -> str:
    if not isinstance(value, str) or value not in UPDATABLE_STATUSES:
        raise _Fail(f"The selected {label} is invalid.")
    return value


def _contacts(value: Any, label: str) -> list[Any]:
    """`array|max:100`, and a list: a JSON object's keys are no contacts' order."""
    if isinstance(value, dict):
        if value:
            raise _Fail(f"The {label} field must be a list.")
        return []  # {} is [] to PHP
    if not isinstance(value, list):
        raise _Fail(f"The {label} field must be an array.")
    if len(value) > MAX_SECONDARY_CONTACTS:
        raise _Fail(f"The {label} field must not have more than {MAX_SECONDARY_CONTACTS} items.")
    return value


def _variables(value: Any, label: str) -> dict[str, Any]:
    """`array`, with named keys, bounded; its strings trimmed and nulled throughout."""
    if isinstance(value, list) and not value:
        return {}  # [] and {} are one empty array to PHP
    if isinstance(value, list):
        raise _Fail(f"The {label} field must be an object with named keys, not a list.")
    if not isinstance(value, dict):
        raise _Fail(f"The {label} field must be an array.")
    if len(value) > MAX_VARIABLES:
        raise _Fail(f"The {label} field must not have more than {MAX_VARIABLES} items.")
    cleaned: dict[str, Any] = _cleaned(value, 1, label)
    return cleaned


def _cleaned(value: Any, depth: int, label: str) -> Any:
    """`value` (at `depth`, the variables object at 1) with its strings trimmed and nulled.

    The walk stops at MAX_DEPTH, so no input nests it deeper than that.
    """
    if isinstance(value, str):
        value = php_trim(value)
        if len(value) > MAX_STRING_LENGTH:
            raise _Fail(
                f"The {label} field must not hold strings longer than"
                f" {MAX_STRING_LENGTH} characters."
            )
        return value or None
    if isinstance(value, float) and not math.isfinite(value):  # no JSON text holds one
        raise _Fail(f"The {label} field must hold finite numbers only.")
    if not isinstance(value, dict | list):
        return value
    if depth > MAX_DEPTH:
        raise _Fail(f"The {label} field must not be nested more than {MAX_DEPTH} levels deep.")
    if len(value) > MAX_VARIABLES:
        raise _Fail(
            f"The {label} field must not hold objects or lists of more than {MAX_VARIABLES} items."
        )
    if isinstance(value, list):
        return [_cleaned(item, depth + 1, label) for item in value]
    if any(len(key) > MAX_KEY_LENGTH for key in value):
        raise _Fail(
            f"The {label} field must not have keys longer than {MAX_KEY_LENGTH} characters."
        )
    return {key: _cleaned(item, depth + 1, label) for key, item in value.items()}
