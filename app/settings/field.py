"""How one setting is declared: default, bounds, help, flag group, metavar."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic.config import JsonDict

GROUPS = {
    "serve": "",
    "proxy": "proxy mode",
    "record": "record mode (proxy mode, and each 200 written as a fixture)",
    "calls": "simulated calling (mock mode)",
    "scale": "scale-out (several workers; one cache and upstream budget shared through Redis)",
}


def setting(
    default: Any = None,
    help_text: str = "",
    *,
    group: str = "serve",
    metavar: str | None = None,
    expected: str | None = None,
    bare: str | None = None,
    **constraints: Any,
) -> Any:
    """One setting, declared once: its default, bounds, help, flag group and metavar.

    The `serve` flag, its --help line and the message for a bad value are
    derived from this; the env twin is LEADS_PROXY_<NAME>. `expected` says what
    a good value looks like where the bounds cannot; `bare` is the value of
    the flag given alone (`--anonymize` means `--anonymize on`).
    """
    extra: JsonDict = {"group": group, "metavar": metavar, "expected": expected, "bare": bare}
    if callable(default):
        return Field(
            default_factory=default, description=help_text, json_schema_extra=extra, **constraints
        )
    return Field(default, description=help_text, json_schema_extra=extra, **constraints)
