"""The bodies of mock mode's lead writes in the OpenAPI document, as `mock.bodies` reads them.

Written from the constants the validator checks with, so a body the document
allows is one the validator takes, and one it refuses the validator refuses.
As Laravel reads them: strings are trimmed first (a value PHP's trim() empties
is not given), an integer may be its digits in a string, booleans are
Laravel's strict list, an empty list is an empty object. Two rules are the
description's alone, as no JSON Schema can say them: a phone number must be
one that phonenumbers finds valid, and not already a lead of the campaign
(without `allow_dupplicate`).
"""

from __future__ import annotations

import re

from ..mock.bodies import (
    INVALID_PHONE,
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    MAX_PHONE_LENGTH,
    MAX_SECONDARY_CONTACTS,
    MAX_STRING_LENGTH,
    MAX_VARIABLES,
    UPDATABLE_STATUSES,
)
from ..mock.query import MAX_WHOLE_NUMBER
from .openapi_listing import BLANK, TRIMMED, Schema

REF = "#/components/schemas/"
NULL: Schema = {"type": "null"}


def trimmed(core: str) -> str:
    """A pattern of `core`, with what PHP's trim() takes off around it."""
    return rf"^{TRIMMED}*(?:{core}){TRIMMED}*$"


def ref(name: str) -> Schema:
    return {"$ref": REF + name}


# Some character trim() keeps (a search, not a match): a blank value is not given.
NOT_BLANK = rf"[^{TRIMMED[1:-1]}]"
PHONE: Schema = {
    "type": "string",
    "pattern": NOT_BLANK,
    "description": (
        "A phone number with its country code (`+` first), formatted to E.164: spaces, "
        "dashes, dots and parentheses allowed. One phonenumbers does not find valid, "
        f'with an extension, or over {MAX_PHONE_LENGTH} characters: 422 "{INVALID_PHONE}"'
    ),
    "examples": ["+14155550123"],
}
# FILTER_VALIDATE_INT's digits (a + allowed, no zero first), 1 .. MAX_WHOLE_NUMBER: the
# pattern holds while that is all nines (tests/unit/test_openapi.py checks both ends).
DIGITS = len(str(MAX_WHOLE_NUMBER))
ID: Schema = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_WHOLE_NUMBER},
        {"type": "string", "pattern": trimmed(rf"\+?[1-9][0-9]{{0,{DIGITS - 1}}}")},
    ],
    "description": f"A campaign of this key: 1 to {MAX_WHOLE_NUMBER}, or those digits",
    "examples": [1],
}
BOOLEAN: Schema = {
    "anyOf": [
        {"type": "boolean"},
        {"type": "integer", "enum": [0, 1]},
        {"type": "string", "pattern": trimmed("[01]")},
        BLANK,
        NULL,
    ],
}
STATUS: Schema = {
    "anyOf": [
        {"type": "string", "enum": list(UPDATABLE_STATUSES)},
        {"type": "string", "pattern": trimmed("|".join(map(re.escape, UPDATABLE_STATUSES)))},
    ],
    "description": "The lead's new status: " + ", ".join(UPDATABLE_STATUSES),
}
# A string inside variables: at most MAX_STRING_LENGTH characters once trimmed.
TEXT: Schema = {
    "type": "string",
    "pattern": trimmed(rf"{NOT_BLANK}(?:[\s\S]{{0,{MAX_STRING_LENGTH - 2}}}{NOT_BLANK})?|"),
}
# [] and {} are one empty array to PHP (items, for generated clients that need one)
EMPTY_LIST: Schema = {"type": "array", "maxItems": 0, "items": {}}
EMPTY_OBJECT: Schema = {"type": "object", "maxProperties": 0}


def _mapping(values: Schema) -> Schema:
    return {
        "type": "object",
        "maxProperties": MAX_VARIABLES,
        "propertyNames": {"maxLength": MAX_KEY_LENGTH},
        "additionalProperties": values,
    }


def level(depth: int) -> str:
    """The name of the schema of a value at `depth` inside variables (the object is 1)."""
    return f"VariablesLevel{depth}"


def variables_schemas() -> dict[str, Schema]:
    """`Variables`, and one schema a level for the values inside: objects and lists
    stop at MAX_DEPTH, so the last level holds only scalars."""
    schemas: dict[str, Schema] = {}
    for depth in range(2, MAX_DEPTH + 2):
        kinds = [TEXT, {"type": "number"}, {"type": "boolean"}, NULL]
        if depth <= MAX_DEPTH:
            inner = ref(level(depth + 1))
            kinds += [_mapping(inner), {"type": "array", "maxItems": MAX_VARIABLES, "items": inner}]
        schemas[level(depth)] = {"anyOf": kinds, "description": f"A value at level {depth}"}
    schemas["Variables"] = {
        **_mapping(ref(level(2))),
        "description": (
            f"Custom variables by name: at most {MAX_VARIABLES} items here and in each "
            f"object or list inside, names of at most {MAX_KEY_LENGTH} characters, "
            f"{MAX_DEPTH} levels, strings of at most {MAX_STRING_LENGTH} characters "
            "once trimmed (a blank one is null)"
        ),
        "examples": [{"customer_name": "John Doe", "email": "john.doe@example.com"}],
    }
    return schemas


VARIABLES: Schema = {"anyOf": [ref("Variables"), EMPTY_LIST]}
OPTIONAL_VARIABLES: Schema = {"anyOf": [ref("Variables"), EMPTY_LIST, NULL, BLANK]}
CONTACT: Schema = {
    "type": "object",
    "required": ["phone_number"],
    "properties": {"phone_number": PHONE, "variables": OPTIONAL_VARIABLES},
}
NEW_LEAD: Schema = {
    "type": "object",
    "required": ["phone_number", "campaign_id"],
    "properties": {
        "phone_number": PHONE,
        "campaign_id": ID,
        "variables": OPTIONAL_VARIABLES,
        "allow_dupplicate": {
            **BOOLEAN,
            "description": (
                "Add the number even if it is already a lead of the campaign (spelled so "
                'by the API): true, false, 0, 1, "0" or "1"; blank or null is false'
            ),
        },
        "secondary_contacts": {
            "anyOf": [
                {"type": "array", "maxItems": MAX_SECONDARY_CONTACTS, "items": CONTACT},
                EMPTY_OBJECT,
                NULL,
                BLANK,
            ],
            "description": f"Other numbers of the same person, at most {MAX_SECONDARY_CONTACTS}",
        },
    },
    "description": "A new lead; fields no rule names are ignored, as Laravel ignores them",
    "examples": [{"phone_number": "+14155550123", "campaign_id": 1, "variables": {"name": "Ann"}}],
}
LEAD_CHANGES: Schema = {
    "type": "object",
    "properties": {
        "campaign_id": ID,
        "phone_number": PHONE,
        "status": STATUS,
        "variables": {**VARIABLES, "description": "Merged into the lead's variables"},
    },
    "description": "Only the fields given change (none may be null); others are ignored",
    "examples": [{"status": "completed", "variables": {"note": "called back"}}],
}
BODY_SCHEMAS = {"NewLead": NEW_LEAD, "LeadChanges": LEAD_CHANGES, **variables_schemas()}
