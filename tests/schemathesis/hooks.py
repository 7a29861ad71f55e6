"""Schemathesis hooks for leads-proxy's own document (tests/e2e/test_openapi.py).

The document describes `Prefer` exactly, scenarios included; these keep the
generated requests from choosing the scenarios whose answers are errors by
design (a 5xx, a 422, a delay), or combinations the grammar allows and the
server refuses by rule (`example` with `dynamic=true`; `date_to` before
`date_from`). Everything else is generated and checked.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import schemathesis

from leads_proxy.mock.prefer import PreferError, parse_prefer

BY_DESIGN = frozenset({422, 500, 503})


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
