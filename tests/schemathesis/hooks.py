"""Schemathesis hooks for leads-proxy's own document (tests/e2e/test_openapi.py).

The document describes `Prefer` exactly, scenarios included; these keep the
generated requests from choosing the scenarios whose answers are errors by
design (a 5xx, a 422, a delay), or combinations the grammar allows and the
server refuses by rule (`example` with `dynamic=true`; `date_to` before
`date_from`). Everything else is generated and checked.

The lead writes have two rules no JSON Schema can write: a phone number must be
one phonenumbers finds valid, and not already a lead of the campaign. So that
schema-valid creates do succeed (and the stateful phase follows their links to
the update and the delete), three in four schema-valid write bodies get new
valid numbers and one of the bundled campaigns; the fourth is sent as
generated, and its 422 for exactly those two rules (nothing else) is dropped.
"""

from __future__ import annotations

import itertools
import json
import zlib
from datetime import date
from typing import Any

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.openapi.checks import RejectedPositiveData

from leads_proxy.mock.prefer import PreferError, parse_prefer

BY_DESIGN = frozenset({422, 500, 503})
WRITES = frozenset({("POST", "/api/user/lead"), ("PUT", "/api/user/leads/{lead_id}")})
CAMPAIGNS = (1, 2, 3)  # the bundled fixtures' campaigns (GET /api/user/campaigns)
# What the document leaves to its descriptions (mock.bodies, mock.writes).
UNWRITTEN = ("Invalid phone number", "is already a lead of this campaign")
_numbers = itertools.count()


@schemathesis.hook
def filter_headers(context: schemathesis.HookContext, headers: dict[str, Any] | None) -> bool:
    prefer = (headers or {}).get("Prefer")
    if not isinstance(prefer, str):
        return True
    try:
        prefs = parse_prefer([prefer])
    except PreferError as error:
        return "cannot be combined" not in str(error)  # keep bad values: they must be 400s
    return prefs.code not in BY_DESIGN and not prefs.delay_ms


@schemathesis.hook
def filter_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> bool:
    first, last = (query or {}).get("date_from"), (query or {}).get("date_to")
    try:
        return date.fromisoformat(str(last)) >= date.fromisoformat(str(first))
    except ValueError:
        return True


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    """Three in four schema-valid write bodies: new valid numbers, a known campaign."""
    if (case.method.upper(), case.operation.path) not in WRITES or not isinstance(case.body, dict):
        return case
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
        return case  # its fault must stay where it was put
    chosen = zlib.crc32(json.dumps(case.body, sort_keys=True, default=str).encode())
    if chosen % 4 == 0:
        return case
    body = dict(case.body)
    if "phone_number" in body:
        body["phone_number"] = _fresh()
    if "campaign_id" in body:
        body["campaign_id"] = CAMPAIGNS[chosen % len(CAMPAIGNS)]
    contacts = body.get("secondary_contacts")
    if isinstance(contacts, list):
        body["secondary_contacts"] = [
            {**contact, "phone_number": _fresh()} if isinstance(contact, dict) else contact
            for contact in contacts
        ]
    case.body = body
    return case


def _fresh() -> str:
    """A London number, valid and never given before in this run."""
    return f"+44207{next(_numbers):07d}"


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext, failure: Any, case: Any, response: Any
) -> bool:
    """Every failure but a schema-valid write's 422 for the rules the document cannot write."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    try:
        errors: dict[str, list[str]] = response.json()["errors"]
        return not errors or not all(
            any(rule in message for rule in UNWRITTEN)
            for messages in errors.values()
            for message in messages
        )
    except (ValueError, KeyError, AttributeError, TypeError):
        return True
