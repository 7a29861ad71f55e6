"""The OpenAPI document, exactly as it is served, and the same bytes at every start.

FastAPI describes the routes and the models. Written out here: the listing's
operations (`edge.openapi_listing` as mock mode checks them, `edge.openapi_proxy`
as proxy mode passes them on, with the rest of the API it forwards), and the
answers FastAPI cannot see: the admin token's refusals, errors in Laravel's
shape rather than FastAPI's, and what is sent below the app on any path (431
and 408 from the request-head guard, 503 at --limit-concurrency or while the
server stops).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..fixtures.schema import E164_PATTERN, TIMESTAMP_PATTERN
from ..settings.values import Mode
from .admin import BODY_BYTES
from .openapi_listing import (
    IF_NONE_MATCH,
    QUERY_PARAMETERS,
    Schema,
    error,
    prefer_parameter,
    responses,
)
from .openapi_proxy import (
    FORWARDED_TAG,
    PROXY_PARAMETERS,
    RETRY_AFTER,
    forwarded_paths,
    listing_responses,
)
from .openapi_writes import write_operations

LEADS_PATHS = ("/api/user/leads", "/leads")
ERROR_BODY = "#/components/schemas/ErrorBody"
FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")  # we send ErrorBody instead

EVERYWHERE = {
    "408": error("The request line and headers took over --header-timeout (connection closed)"),
    "431": error("The request line and headers are over --max-header-bytes (connection closed)"),
    "503": error(
        "Busy (--limit-concurrency connections at once) or shutting down: try again",
        RETRY_AFTER,
    ),
}

TOO_BIG = error(f"A body over {BODY_BYTES} bytes (not read further)")
ADMIN_REFUSAL = error('No admin token, or a wrong one (with --admin-token): "Unauthenticated."')
READINESS: Schema = {
    "type": "object",
    "required": ["ready", "reason"],
    "properties": {"ready": {"type": "boolean"}, "reason": {"type": "string"}},
}
PURGE_BODY: Schema = {
    "required": False,
    "description": "Empty to purge all, or one API key's entries",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["api_key"],
                "properties": {"api_key": {"type": "string", "minLength": 1}},
            }
        }
    },
}
OPERATIONS: dict[tuple[str, str], dict[str, Schema]] = {
    ("get", "/_proxy/requests"): {"404": error("The journal is off (--journal-size 0)")},
    ("delete", "/_proxy/requests"): {"401": ADMIN_REFUSAL},
    ("put", "/_proxy/scenario"): {
        "401": ADMIN_REFUSAL,
        "413": TOO_BIG,
        "422": error('A body not like {"prefer": "code=429", "rate_limit": 5}, or a bad Prefer'),
    },
    ("delete", "/_proxy/scenario"): {"401": ADMIN_REFUSAL},
    ("delete", "/_proxy/state"): {
        "401": ADMIN_REFUSAL,
        "422": error("A key that is not a fingerprint: 8 lower-case hex digits"),
    },
    ("delete", "/_proxy/cache"): {
        "401": ADMIN_REFUSAL,
        "403": error("Purging is disabled: leads-proxy was started without --admin-token"),
        "413": TOO_BIG,
        "422": error('A body that is neither empty nor like {"api_key": "..."}'),
    },
    ("get", "/_proxy/ready"): {
        "503": {
            "description": "Not ready (no recent upstream answer, nothing cached); or busy",
            "content": {
                "application/json": {"schema": {"anyOf": [READINESS, {"$ref": ERROR_BODY}]}}
            },
        }
    },
}


def exact_openapi(app: FastAPI, examples: Callable[[], Sequence[str]]) -> Callable[[], Schema]:
    """`edge.openapi`, with the leads operations written out in full (made once)."""

    def openapi() -> Schema:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        settings = app.state.settings
        forwards = settings.mode is not Mode.MOCK  # proxy and record modes send /api/... on
        if forwards:
            document["paths"].update(forwarded_paths(settings.max_body_bytes))
            document["tags"] = [FORWARDED_TAG]
        for path in LEADS_PATHS:
            operation = document["paths"].get(path, {}).get("get")
            if operation is None:
                continue
            ok = operation["responses"]["200"]
            if forwards:
                operation["parameters"] = PROXY_PARAMETERS
                operation["responses"] = listing_responses(ok)
            else:
                operation["parameters"] = [
                    *QUERY_PARAMETERS,
                    prefer_parameter(examples()),
                    IF_NONE_MATCH,
                ]
                operation["responses"] = responses(ok)
        if not forwards:
            write_operations(document, settings.max_body_bytes)
        _declare_answers(document)
        schemas = document["components"]["schemas"]
        for model in ("Lead", "SecondaryContact"):
            fields = schemas[model]["properties"]
            fields["phone_number"]["pattern"] = E164_PATTERN
            fields["created_at"]["pattern"] = TIMESTAMP_PATTERN
            fields["updated_at"]["pattern"] = TIMESTAMP_PATTERN
        app.openapi_schema = document
        return document

    return openapi


def _declare_answers(document: Schema) -> None:
    """What every operation can answer that FastAPI does not know of."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answers: dict[str, Schema] = operation["responses"]
            if "422" in answers and "HTTPValidationError" in str(answers["422"]):
                answers["422"] = error("Bad parameter values, in Laravel's validation shape")
            if (method, path) == ("delete", "/_proxy/cache"):
                operation["requestBody"] = PURGE_BODY
            answers.update(OPERATIONS.get((method, path), {}))
            for status, answer in EVERYWHERE.items():
                answers.setdefault(status, answer)
            # Status codes in order, `default` last: the same document at every start.
            operation["responses"] = dict(sorted(answers.items(), key=lambda kv: kv[0]))
    schemas = document["components"]["schemas"]
    for name in FASTAPI_ERRORS:
        schemas.pop(name, None)
