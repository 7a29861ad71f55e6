"""Scenarios chosen with the `Prefer` request header, as Stoplight Prism does.

    Prefer: example=empty
    Prefer: code=429
    Prefer: dynamic=true, seed=42, count=50
    Prefer: delay=250

Preferences may be split by commas or semicolons and spread over several
`Prefer` headers. Unknown preferences are ignored (RFC 7240); a known one with
a bad value, wherever it is, is a PreferError whose message names the valid
values; of repeated good ones, the last wins. `edge.openapi.prefer_pattern`
describes exactly this grammar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SCENARIO_CODES = (200, 401, 404, 422, 429, 500, 503)
MAX_DELAY_MS = 60_000
DEFAULT_DYNAMIC_COUNT = 20
MAX_DYNAMIC_COUNT = 10_000
MAX_SEED = 2**63 - 1
KNOWN = frozenset({"example", "code", "dynamic", "seed", "count", "delay"})


class PreferError(ValueError):
    """A `Prefer` header asks for something leads-proxy cannot do."""


@dataclass(frozen=True, slots=True)
class Preferences:
    example: str | None = None
    code: int | None = None
    dynamic: bool = False
    seed: int | None = None
    count: int = DEFAULT_DYNAMIC_COUNT
    delay_ms: int = 0

    def applied(self) -> str:
        """The `Preference-Applied` header value for these preferences."""
        parts = []
        if self.example is not None:
            parts.append(f"example={self.example}")
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.dynamic:
            parts.append("dynamic=true")
            parts.append(f"count={self.count}")
            if self.seed is not None:
                parts.append(f"seed={self.seed}")
        if self.delay_ms:
            parts.append(f"delay={self.delay_ms}")
        return ", ".join(parts)


def parse_prefer(headers: Iterable[str]) -> Preferences:
    """Read every `Prefer` header value into Preferences."""
    raw: dict[str, str] = {}
    for header in headers:
        for token in header.replace(";", ",").split(","):
            name, _, value = token.partition("=")
            name = name.strip().lower()
            if name in KNOWN:
                raw[name] = value.strip().strip('"')
                _read(raw)  # each value is checked, not only the last one of a name

    prefs = _read(raw)
    if prefs.dynamic and "example" in raw:
        raise PreferError("Prefer: example and dynamic=true cannot be combined; pick one")
    return prefs


def parse_scenario(value: str, examples: Iterable[str]) -> Preferences:
    """A scenario (`PUT /_proxy/scenario`): a Prefer value that asks for something mock
    mode does, of an example it has. Raises PreferError on any other."""
    prefs = parse_prefer([value])
    if not prefs.applied():
        raise PreferError(
            "Prefer: the scenario asks for nothing mock mode does; it takes "
            + ", ".join(sorted(KNOWN))
            + ' (like "code=429" or "example=empty")'
        )
    known = sorted(examples)
    if prefs.example is not None and prefs.example not in known:
        raise PreferError(f"Unknown example {prefs.example!r}. Known examples: {', '.join(known)}")
    return prefs


def _read(raw: dict[str, str]) -> Preferences:
    code = _number(raw, "code", 100, 599)
    if code is not None and code not in SCENARIO_CODES:
        raise PreferError(
            f"Prefer: code={code} is not a scenario; valid codes: "
            + ", ".join(map(str, SCENARIO_CODES))
        )
    return Preferences(
        example=raw.get("example") or None,
        code=code,
        dynamic=_choice(raw, "dynamic", {"true": True, "false": False}, default=False),
        seed=_number(raw, "seed", 0, MAX_SEED),
        count=_number(raw, "count", 1, MAX_DYNAMIC_COUNT) or DEFAULT_DYNAMIC_COUNT,
        delay_ms=_number(raw, "delay", 0, MAX_DELAY_MS) or 0,
    )


def _number(raw: dict[str, str], name: str, low: int, high: int) -> int | None:
    if name not in raw:
        return None
    value = raw[name]
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or not (
        low <= int(value) <= high
    ):
        raise PreferError(f"Prefer: {name} must be a whole number from {low} to {high}")
    return int(value)


def _choice(raw: dict[str, str], name: str, choices: dict[str, bool], *, default: bool) -> bool:
    if name not in raw:
        return default
    value = raw[name].lower()
    if value not in choices:
        raise PreferError(f"Prefer: {name} must be one of " + ", ".join(choices))
    return choices[value]
