"""Mock mode's lead writes, campaigns list and state reset, in the OpenAPI document.

Written from the constants the code answers with (`mock.writes`, `mock.prefer`,
`fixtures.campaigns`); the bodies from the validator's (`edge.openapi_bodies`).
The create's answer links to the update and the delete of the lead it made,
and those to each other, for clients and for schemathesis's stateful phase.
"""

from __future__ import annotations

from typing import Any

from ..fixtures.campaigns import DAYS, FIELDS, KNOWN_CAMPAIGN_STATUSES, TIME
from ..fixtures.schema import TIMESTAMP_PATTERN
from ..mock.prefer import MAX_DELAY_MS, SCENARIO_CODES
from ..mock.query import MAX_WHOLE_NUMBER
from ..mock.writes import MAX_KEY_BYTES, MAX_KEY_LEADS, MAX_KEYS, MAX_STATE_BYTES
from .openapi_bodies import BODY_SCHEMAS, NULL, ref
from .openapi_listing import (
    ANSWER_HEADERS,
    CACHE_CONTROL,
    IF_NONE_MATCH,
    INTEGER,
    RATE_HEADERS,
    Schema,
    error,
    prefer_pattern,
    responses,
)

CAMPAIGN_DETAILS: Schema = {
    "type": "object",
    "required": list(FIELDS),
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "minLength": 1},
        "status": {
            "type": "string",
            "description": " or ".join(KNOWN_CAMPAIGN_STATUSES) + " (others may appear)",
        },
        "max_calls_in_parallel": {"type": "integer", "minimum": 1},
        "mark_complete_when_no_leads": {"type": "boolean"},
        "allowed_hours_start_time": {"type": "string", "pattern": f"^{TIME.pattern}$"},
        "allowed_hours_end_time": {"type": "string", "pattern": f"^{TIME.pattern}$"},
        "allowed_days": {"type": "array", "items": {"enum": list(DAYS)}, "uniqueItems": True},
        "max_retries": {"type": "integer", "minimum": 0},
        "retry_interval": {"type": "integer", "minimum": 0, "description": "Minutes"},
        "created_at": {"type": "string", "pattern": TIMESTAMP_PATTERN},
        "updated_at": {"type": "string", "pattern": TIMESTAMP_PATTERN},
    },
    "description": "A campaign of the key, with its calling settings (more fields may follow)",
}
FORGOTTEN: Schema = {
    "type": "object",
    "required": ["forgotten", "key"],
    "properties": {
        "forgotten": {
            "type": "object",
            "required": ["keys", "leads"],
            "properties": {"keys": INTEGER, "leads": INTEGER},
        },
        "key": {"anyOf": [{"type": "string"}, NULL], "description": "The key asked for, or null"},
    },
}
SCHEMAS = {**BODY_SCHEMAS, "CampaignDetails": CAMPAIGN_DETAILS}

LEAD_ID: Schema = {
    "name": "lead_id",
    "in": "path",
    "required": True,
    "description": "The lead's id (any other path segment: 404 Lead not found)",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_WHOLE_NUMBER},
}


def prefer_parameter() -> Schema:
    """`Prefer` as the writes and the campaigns list read it."""
    return {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": (
            f"Mock mode's scenarios (RFC 7240): `code=<status>` "
            f"({', '.join(map(str, SCENARIO_CODES))}: that status and Laravel's body for it, "
            "nothing changed; 200 does the operation), `delay=<0-"
            f"{MAX_DELAY_MS} ms>`. `example`, `dynamic`, `seed` and `count` are read and "
            "ignored here (a bad value is still a 400, and example cannot go with "
            "dynamic=true); unknown preferences are ignored."
        ),
        "schema": {"type": "string", "pattern": prefer_pattern(None)},
        # Not code=429: tools that try the examples would mostly test the scenario.
        "examples": {"as usual": {"value": "code=200"}, "slow": {"value": "delay=250"}},
    }


def _message(text: str) -> Schema:
    message = {"type": "string", "enum": [text]}
    return {"type": "object", "required": ["message"], "properties": {"message": message}}


def _ok(description: str, schema: Schema, **more: Any) -> Schema:
    return {
        "description": description,
        "headers": RATE_HEADERS,
        "content": {"application/json": {"schema": schema}},
        **more,
    }


def _link(operation_id: str, lead_id: str, about: str) -> Schema:
    return {"operationId": operation_id, "parameters": {"lead_id": lead_id}, "description": about}


FULL = (
    f"The mock's state holds its most ({MAX_KEY_LEADS:,} changed leads or "
    f"{MAX_KEY_BYTES // 2**20} MiB a key, {MAX_KEYS:,} keys, {MAX_STATE_BYTES // 2**20} MiB): "
    "nothing written; DELETE /_proxy/state forgets the writes"
)
# What a write answers as the listing does: its auth, its rate limit, the scenarios.
AS_LISTING = {
    status: answer
    for status, answer in responses({"description": ""}).items()
    if status in {"401", "429", "500", "503"}
}


def _answers(ok: Schema, refusals: dict[str, Schema]) -> dict[str, Schema]:
    return {"200": ok, **AS_LISTING, **refusals}


def _body(name: str, *, required: bool, description: str) -> Schema:
    return {
        "required": required,
        "description": description,
        "content": {"application/json": {"schema": ref(name)}},
    }


def write_operations(document: Schema, max_body_bytes: int) -> None:
    """The writes, the campaigns list and the state reset written out in FastAPI's `document`."""
    paths = document["paths"]
    too_big = error(f"A body over {max_body_bytes} bytes (--max-body-bytes), not read further")
    not_json = error("A body that is not JSON (or not UTF-8), or a bad Prefer value")
    invalid = "Fields Laravel's rules refuse, each with its message ({message, errors})"
    create = paths["/api/user/lead"]["post"]
    create["parameters"] = [prefer_parameter()]
    create["requestBody"] = _body("NewLead", required=True, description="The lead to create")
    created = {
        "type": "object",
        "required": ["message", "data"],
        "properties": {
            "message": {"type": "string", "enum": ["Lead created successfully"]},
            "data": ref("Lead"),
        },
    }
    create["responses"] = _answers(
        _ok(
            "The lead made, status created, with ids above every id the key has",
            created,
            links={
                "UpdateLead": _link("update_lead", "$response.body#/data/id", "Change it"),
                "DeleteLead": _link("delete_lead", "$response.body#/data/id", "Delete it"),
            },
        ),
        {
            "400": not_json,
            "404": error('"Campaign not found": no campaign of this id (or Prefer: code=404)'),
            "413": too_big,
            "422": error(
                f"{invalid}; a body that is not an object; a number already a lead of the "
                "campaign (without allow_dupplicate); or Prefer: code=422"
            ),
            "507": error(FULL),
        },
    )
    update = paths["/api/user/leads/{lead_id}"]["put"]
    update["parameters"] = [LEAD_ID, prefer_parameter()]
    update["requestBody"] = _body("LeadChanges", required=False, description="No body: no change")
    same = "$request.path.lead_id"
    update["responses"] = _answers(
        _ok(
            "Changed",
            _message("Lead updated successfully"),
            links={"DeleteLead": _link("delete_lead", same, "Delete it")},
        ),
        {
            "400": not_json,
            "404": error('"Lead not found", or "Campaign not found" (or Prefer: code=404)'),
            "413": too_big,
            "422": error(f"{invalid}; a body that is not an object; or Prefer: code=422"),
            "507": error(FULL),
        },
    )
    delete = paths["/api/user/leads/{lead_id}"]["delete"]
    delete["parameters"] = [LEAD_ID, prefer_parameter()]
    delete["responses"] = _answers(
        _ok(
            "Gone for good (its id is never given again)",
            _message("Lead deleted successfully"),
            links={"UpdateLead": _link("update_lead", same, "Find it gone: 404")},
        ),
        {
            "400": error("A bad Prefer value"),
            "404": error('"Lead not found": none of this id, or deleted (or Prefer: code=404)'),
            "422": error("Prefer: code=422"),
            "507": error(FULL),
        },
    )
    campaigns = paths["/api/user/campaigns"]["get"]
    campaigns["parameters"] = [prefer_parameter(), IF_NONE_MATCH]
    listed = {"type": "array", "items": ref("CampaignDetails")}
    campaigns["responses"] = _answers(
        {
            "description": "The key's campaigns",
            "headers": {k: ANSWER_HEADERS[k] for k in ("ETag", "Vary", "Content-Encoding")}
            | {"Cache-Control": CACHE_CONTROL, **RATE_HEADERS},
            "content": {"application/json": {"schema": listed}},
        },
        {
            "304": {
                "description": "Not modified: the If-None-Match tag still holds",
                "headers": {"ETag": ANSWER_HEADERS["ETag"], "Cache-Control": CACHE_CONTROL},
            },
            "400": error("A bad Prefer value"),
            "404": error("Prefer: code=404"),
            "422": error("Prefer: code=422"),
        },
    )
    forget = paths["/_proxy/state"]["delete"]
    for parameter in forget["parameters"]:  # FastAPI's anyOf [pattern, null]: a query has no null
        parameter["schema"] = parameter["schema"]["anyOf"][0]
        parameter["description"] = "One key's fingerprint, as the journal shows it"
    forget["responses"]["200"] = {
        "description": "How many keys and leads were forgotten",
        "content": {"application/json": {"schema": FORGOTTEN}},
    }
    document["components"]["schemas"].update(SCHEMAS)
