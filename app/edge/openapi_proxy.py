"""Proxy mode's part of the OpenAPI document: what proxy mode itself does.

The listing's filters and pages are passed on as given (the upstream checks
them: `?page=%C2%84` goes upstream as it came), so here they are strings whose
descriptions give the upstream's rules. The rest of the API is forwarded, any
path under /api/ with any method; the document lists the endpoints public
clients call (`shared/reference/UPSTREAM.md`) as operations of their own, each
with its path written out, since a path parameter cannot hold a `/` and
generated clients would send `user%2Fme`.
"""

from __future__ import annotations

from ..http.checks import MAX_QUERY_BYTES
from .openapi_listing import (
    ANSWER_HEADERS,
    IF_NONE_MATCH,
    INTEGER,
    QUERY_PARAMETERS,
    RATE_HEADERS,
    Schema,
    error,
    header,
)

BEARER: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
ANY_JSON: Schema = {"application/json": {"schema": {}}}
RETRY_AFTER = {"Retry-After": header("Seconds to wait", INTEGER)}


def _passed_on(parameter: Schema) -> Schema:
    return {
        **parameter,
        "description": f"{parameter['description']}. Passed on as given: the upstream checks it",
        "schema": {"type": "string"},
    }


PROXY_PARAMETERS = [
    *(_passed_on(parameter) for parameter in QUERY_PARAMETERS),
    {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": "Forwarded to the upstream, which ignores it (mock mode's scenarios)",
        "schema": {"type": "string"},
    },
    {
        "name": "Cache-Control",
        "in": "header",
        "required": False,
        "description": (
            "`no-cache`: ask the upstream anew (its answer refills the cache); "
            "`only-if-cached`: a 504 unless a copy can be served; other directives are ignored"
        ),
        "schema": {"type": "string"},
        # Not only-if-cached: tools that try the examples read its 504 on a cold key
        # (right, RFC 9111) as a server fault.
        "examples": {"ask anew": {"value": "no-cache"}},
    },
    IF_NONE_MATCH,
]

# Answers of proxy mode's own, on every path it sends on.
REFUSED = "Two Authorization headers, or a header of bytes other than visible ASCII"
FAILED = {
    "414": error(f"A query string over {MAX_QUERY_BYTES} bytes (not sent on)"),
    "502": error("The upstream could not be reached or gave no usable answer"),
    "504": error("The upstream did not answer in time (--upstream-timeout)"),
}
UPSTREAM = {
    "default": {
        "description": "Any other answer of the upstream, passed on as it came, uncached",
        "content": {"application/json": {"schema": {}}, "*/*": {"schema": {}}},
    },
}


def listing_responses(ok: Schema) -> dict[str, Schema]:
    """The listing through the cache: the upstream's answers, and the cache's own."""
    return {
        "200": {**ok, "headers": ANSWER_HEADERS},
        "304": {
            "description": "Not modified: the If-None-Match tag still holds",
            "headers": {k: ANSWER_HEADERS[k] for k in ("ETag", "Cache-Control", "Age", "X-Cache")},
        },
        "400": error(REFUSED),
        "401": error("The upstream's answer to no key or a wrong one (or bad Authorization bytes)"),
        "429": error(
            "The upstream's 429, or this key waiting out the Retry-After it was given",
            {**RETRY_AFTER, **RATE_HEADERS},
        ),
        **FAILED,
        "504": error("The upstream did not answer in time, or only-if-cached found no copy"),
        **UPSTREAM,
    }


# (method, path, operationId, summary); every one is forwarded as it is.
FORWARDED = [
    ("get", "/api/user/me", "get_user", "The key's user"),
    ("get", "/api/user/campaigns", "list_campaigns", "List campaigns"),
    ("post", "/api/user/campaigns/update-status", "update_campaign_status",
     "Change a campaign's status"),
    ("post", "/api/user/lead", "create_lead", "Create a lead"),
    ("put", "/api/user/leads/{id}", "update_lead", "Update a lead"),
    ("delete", "/api/user/leads/{id}", "delete_lead", "Delete a lead"),
    ("get", "/api/user/calls", "list_calls", "List calls"),
    ("post", "/api/user/make_call", "make_call", "Make a call"),
    ("get", "/api/user/assistants/get", "list_assistants", "List assistants"),
]  # fmt: skip
LEAD_WRITE = " A success drops the key's cached listings."
FORWARDING = (
    "Forwarded to the upstream as it is, uncached: method, query, headers (less "
    "hop-by-hop ones) and body; its answer comes back as it came. Proxy mode checks "
    "nothing the upstream checks."
)
# Refused before sending: what would not reach the same path upstream.
LEAD_ID: Schema = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The lead's id (sent on as given: no control characters, not . or ..)",
    "schema": {"type": "string", "pattern": r"^(?!\.\.?$)[^\x00-\x1f\x7f]+$"},
}


def forwarded_paths(max_body_bytes: int) -> dict[str, Schema]:
    """The rest of the API as proxy mode sends it on: one operation per endpoint."""
    paths: dict[str, Schema] = {}
    for method, path, operation_id, summary in FORWARDED:
        writes_lead = "/lead" in path and method != "get"
        operation: Schema = {
            "tags": ["forwarded"],
            "summary": summary,
            "description": FORWARDING + (LEAD_WRITE if writes_lead else ""),
            "operationId": operation_id,
            "security": BEARER,
            "parameters": [LEAD_ID] if "{id}" in path else [],
            "responses": {
                "200": {"description": "The upstream's answer", "content": ANY_JSON},
                "400": error(f"{REFUSED}; or a control character, . or .. in the path"),
                "404": error('The upstream\'s: no such endpoint or lead ("Lead not found")'),
                "413": error(f"A body over {max_body_bytes} bytes (--max-body-bytes), not sent"),
                **FAILED,
                **UPSTREAM,
            },
        }
        if method in {"post", "put"}:
            operation["requestBody"] = {
                "required": False,
                "description": "Sent on as it is: the upstream reads and checks it",
                "content": ANY_JSON,
            }
        paths.setdefault(path, {})[method] = operation
    return paths


FORWARDED_TAG = {
    "name": "forwarded",
    "description": (
        "Proxy mode sends every path under /api/ other than the listing on to the "
        "upstream, with any method; these are the endpoints public clients call."
    ),
}
