"""The leads listing's part of the OpenAPI document, as mock mode checks it.

The operation's parameters, the `Prefer` grammar and every answer with its
headers are written here from the same constants the code validates with
(`mock.query`, `mock.prefer`), so the document allows what the server accepts
and nothing it refuses. Proxy mode's document (`edge.openapi_proxy`) is built
on the same parameters, passed on for the upstream to check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..fixtures.schema import KNOWN_STATUSES
from ..http.checks import MAX_QUERY_BYTES
from ..mock.prefer import KNOWN, MAX_DELAY_MS, MAX_DYNAMIC_COUNT, MAX_SEED, SCENARIO_CODES
from ..mock.query import DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_WHOLE_NUMBER

Schema = dict[str, Any]

# What PHP's trim() takes off both ends (http.canonical.php_trim), as a pattern's class;
# Laravel reads a value that it empties as not given.
TRIMMED = r"[ \t\n\r\x00\x0b]"
BLANK: Schema = {"type": "string", "pattern": rf"^{TRIMMED}*$"}


def _or_blank(schema: Schema) -> Schema:
    return {"anyOf": [schema, BLANK]}


def _query(name: str, description: str, schema: Schema) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


WHOLE: Schema = {"type": "integer", "maximum": MAX_WHOLE_NUMBER}
QUERY_PARAMETERS = [
    _query(
        "status",
        "Keep leads with this status (" + ", ".join(KNOWN_STATUSES) + "; another value keeps none)",
        {"type": "string"},
    ),
    _query("campaign_id", "Keep one campaign's leads", _or_blank({**WHOLE, "minimum": 1})),
    _query("phone_number", "Keep leads whose number contains this", {"type": "string"}),
    _query(
        "date_from", "Created on or after this day", _or_blank({"type": "string", "format": "date"})
    ),
    _query(
        "date_to",
        "Created on or before this day (not before date_from)",
        _or_blank({"type": "string", "format": "date"}),
    ),
    _query("page", "Page number: asks for the paginator shape", _or_blank({**WHOLE, "minimum": 1})),
    _query(
        "per_page",
        f"Leads a page, default {DEFAULT_PER_PAGE}: asks for the paginator shape",
        _or_blank({"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
    ),
]


def _anycase(word: str) -> str:
    """`code` as `[cC][oO][dD][eE]`: JSON Schema patterns have no flags."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


def _numbers(low: int, high: int) -> str:
    """The digits `prefer._number` reads as low..high (low 0 or 1): at most 19, zeros
    first allowed, as one pattern."""
    top = str(high)
    lengths = []
    for length in range(1, len(top) + 1):
        if length < len(top):
            exact = "[0-9]" if length == 1 else rf"[1-9][0-9]{{{length - 1}}}"
        else:
            exact = _at_most(top)
        if length == 1 and low == 1:
            exact = "[1-9]" if len(top) > 1 else f"[1-{top}]"
        lengths.append(rf"0{{0,{19 - length}}}(?:{exact})")
    return "(?:" + "|".join(lengths) + ")"


def _at_most(top: str) -> str:
    """Numbers of len(top) digits, no zero first, up to `top`."""
    options = [top]
    for i, digit in enumerate(top):
        first = 1 if i == 0 else 0
        if int(digit) > first:
            rest = len(top) - i - 1
            tail = rf"[0-9]{{{rest}}}" if rest else ""
            options.append(f"{top[:i]}[{first}-{int(digit) - 1}]{tail}")
    return "|".join(options)


def prefer_pattern(examples: Sequence[str] | None) -> str:
    """Every `Prefer` value mock mode accepts (mock.prefer), and no other.

    Tokens split by `,` or `;`; each is blank, an unknown preference (ignored),
    or a known one with a good value: names in any case, spaces around them and
    the value, quotes around the value, numbers of at most 19 digits. An
    example is one of `examples`, or any name where None (the writes ignore
    it). One rule is left to the description: `example` cannot go with
    `dynamic=true`.
    """
    names = "|".join(_anycase(name) for name in sorted(KNOWN))
    named = "[^,;]*" if examples is None else "|".join(re.escape(name) for name in examples)
    value = {
        "example": f"(?:{named})?",
        "code": "0{0,16}(?:" + "|".join(map(str, SCENARIO_CODES)) + ")",
        "dynamic": f"(?:{_anycase('true')}|{_anycase('false')})",
        "seed": _numbers(0, MAX_SEED),
        "count": _numbers(1, MAX_DYNAMIC_COUNT),
        "delay": _numbers(0, MAX_DELAY_MS),
    }
    known = "|".join(rf"{_anycase(name)}\s*=\s*\"*{value[name]}\"*" for name in sorted(KNOWN))
    # An example named without a value is no example: `example` alone is read as unset.
    known += "|" + _anycase("example")
    unknown = rf"(?!\s*(?:{names})\s*(?:=|[,;]|$))[^,;]*"
    token = rf"\s*(?:(?:{known})\s*|{unknown})"
    return rf"^{token}(?:[,;]{token})*$"


def prefer_parameter(examples: Sequence[str]) -> Schema:
    return {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": (
            "Mock mode's scenarios (RFC 7240), split by `,` or `;`: "
            f"`example=<name>` ({', '.join(examples)}), "
            f"`code=<status>` ({', '.join(map(str, SCENARIO_CODES))}: that status and "
            "Laravel's body for it), `dynamic=true` with `seed=<n>` and "
            f"`count=<1-{MAX_DYNAMIC_COUNT}>` (generated leads; without a seed, one per key "
            f"and filters), `delay=<0-{MAX_DELAY_MS} ms>`. Unknown preferences are ignored; "
            "a known one with a bad value is a 400."
        ),
        "schema": {"type": "string", "pattern": prefer_pattern(examples)},
        "examples": {
            "an example": {"value": "example=empty"},
            "a status": {"value": "code=429"},
            "generated": {"value": "dynamic=true, seed=42, count=50"},
        },
    }


IF_NONE_MATCH: Schema = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "An ETag from an earlier answer: 304 if the data has not changed",
    "schema": {"type": "string"},
}


def header(description: str, schema: Schema | None = None) -> Schema:
    return {"description": description, "schema": schema or {"type": "string"}}


INTEGER: Schema = {"type": "integer", "minimum": 0}
RATE_HEADERS = {
    "X-RateLimit-Limit": header("Requests a minute (with --mock-rate-limit)", INTEGER),
    "X-RateLimit-Remaining": header("Requests left this minute", INTEGER),
}
CACHE_CONTROL = header(
    "What caches in between may do: mock mode private, no-cache; proxy mode the "
    "upstream's (private unless it says no-store), or no-cache, private"
)
ANSWER_HEADERS = {
    "ETag": header("The data's tag (the gzip form's ends in -gzip)"),
    "Cache-Control": CACHE_CONTROL,
    "Vary": header("Accept-Encoding, when the answer is also offered in gzip"),
    "Content-Encoding": header("gzip, when the client asked for it", {"enum": ["gzip"]}),
    "Preference-Applied": header("The Prefer scenario applied"),
    "Cache-Status": header("Proxy mode: what the cache did (RFC 9211)"),
    "X-Cache": header("Proxy mode: HIT, MISS, STALE or BYPASS"),
    "Age": header("Proxy mode: seconds since the copy was fetched", INTEGER),
    **RATE_HEADERS,
}


def error(description: str, headers: dict[str, Schema] | None = None) -> Schema:
    return {
        "description": description,
        "headers": headers or {},
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def responses(ok: Schema) -> dict[str, Schema]:
    return {
        "200": {**ok, "headers": ANSWER_HEADERS},
        "304": {
            "description": "Not modified: the If-None-Match tag still holds",
            "headers": {
                "ETag": ANSWER_HEADERS["ETag"],
                "Cache-Control": CACHE_CONTROL,
                **RATE_HEADERS,
            },
        },
        "400": error("A bad Prefer value, or two Authorization headers"),
        "401": error('No bearer token: {"message": "Unauthenticated."}'),
        "404": error("Prefer: example=<name> names no example (or code=404)"),
        "414": error(f"A query string over {MAX_QUERY_BYTES} bytes"),
        "422": error("Bad filter or page values, in Laravel's validation shape"),
        "429": error(
            'Too many requests: {"message": "Too Many Attempts."}',
            {
                "Retry-After": header("Seconds to wait", INTEGER),
                "X-RateLimit-Reset": header("When the window ends (Unix time)", INTEGER),
                **RATE_HEADERS,
            },
        ),
        "500": error("Prefer: code=500, or a fault"),
        "502": error("Proxy mode: the upstream failed and no copy can be served"),
        "503": error(
            "Prefer: code=503; or busy (--limit-concurrency), or shutting down",
            {"Retry-After": header("Seconds to wait", INTEGER)},
        ),
        "504": error("Proxy mode: the upstream timed out, or only-if-cached found nothing"),
    }
