"""Contract drift: how a real answer differs from the documented schema and the fixtures.

Each difference is a `Finding`, classed breaking (an app built on the
documentation or on the fixtures could fail) or compatible (it could not).
Findings are grouped by kind and place (`/*/campaign/name`), with a count
and one example, so a thousand leads with the same drift make one line.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..fixtures.schema import E164, KNOWN_STATUSES, TIMESTAMP, Campaign, Lead, SecondaryContact


def _json_type(annotation: Any) -> type:
    """The JSON type a field of a documented model must have: int, str, dict or list."""
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return dict
    if origin in {int, str, dict, list, bool}:
        return origin  # type: ignore[no-any-return]
    raise TypeError(f"no JSON type for {annotation!r}")


def _documented(model: type[BaseModel]) -> dict[str, type | tuple[type, ...]]:
    return {name: _json_type(field.annotation) for name, field in model.model_fields.items()}


# The documented fields of each level and the JSON type of each, read off the
# schema's models: the one description of the payload.
DOCUMENTED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "lead": _documented(Lead),
    "campaign": _documented(Campaign),
    "contact": _documented(SecondaryContact),
}
TYPE_NAMES = {int: "integer", str: "string", dict: "object", list: "array", bool: "boolean"}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    path: str
    breaking: bool
    detail: str
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "breaking": self.breaking,
            "detail": self.detail,
            "count": self.count,
        }


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, float):
        return "number"
    return TYPE_NAMES.get(type(value), type(value).__name__)


def fixture_shape(fixtures: Iterable[Sequence[dict[str, Any]]]) -> dict[str, set[str]]:
    """The fields the fixtures use at each level."""
    shape: dict[str, set[str]] = {level: set() for level in DOCUMENTED}
    for leads in fixtures:
        for level, _, item in _objects(leads):
            shape[level] |= set(item)
    return shape


def check_answer(
    data: Any, *, shape: Mapping[str, set[str]] | None = None, expect: str = "array"
) -> list[Finding]:
    """Every drift between one answer and the documented schema (and the fixtures' shape)."""
    raw: list[Finding] = []
    leads = data
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        if expect == "array":
            raw.append(Finding("envelope", "", True, "a bare array is documented; got a paginator"))
        leads = data["data"]
    elif isinstance(data, list):
        if expect == "paginated":
            raw.append(Finding("envelope", "", True, "a paginator was expected; got a bare array"))
    else:
        return [Finding("envelope", "", True, f"expected an array of leads, got {json_type(data)}")]
    for level, path, item in _objects(leads):
        raw.extend(_fields(level, path, item, shape or {}))
    return _grouped(raw)


def _objects(leads: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if not isinstance(leads, list):
        return
    for lead in leads:
        if not isinstance(lead, dict):
            continue
        yield "lead", "/*", lead
        if isinstance(lead.get("campaign"), dict):
            yield "campaign", "/*/campaign", lead["campaign"]
        for contact in lead.get("secondary_contacts") or []:
            if isinstance(contact, dict):
                yield "contact", "/*/secondary_contacts/*", contact


def _fields(
    level: str, path: str, item: dict[str, Any], shape: Mapping[str, set[str]]
) -> Iterator[Finding]:
    documented = DOCUMENTED[level]
    in_fixtures = shape.get(level, set())
    for field, expected in documented.items():
        where = f"{path}/{field}"
        if field not in item:
            yield Finding("missing-field", where, True, "documented, but missing")
            continue
        value = item[field]
        if not isinstance(value, expected) or isinstance(value, bool):
            name = TYPE_NAMES.get(expected, str(expected)) if isinstance(expected, type) else "?"
            yield Finding("type-change", where, True, f"expected {name}, got {json_type(value)}")
            continue
        yield from _value(field, where, value)
    for field in sorted(in_fixtures - set(documented) - set(item)):
        yield Finding("missing-field", f"{path}/{field}", True, "in the fixtures, but missing")
    for field in sorted(set(item) - set(documented) - in_fixtures):
        yield Finding(
            "new-field",
            f"{path}/{field}",
            False,
            f"not documented nor in the fixtures ({json_type(item[field])})",
        )


def _value(field: str, where: str, value: Any) -> Iterator[Finding]:
    if field == "phone_number" and not E164.fullmatch(value):
        yield Finding("phone-format", where, True, "not an E.164 phone number")
    elif field in {"created_at", "updated_at"} and not TIMESTAMP.fullmatch(value):
        yield Finding("timestamp-format", where, True, "not YYYY-MM-DD HH:MM:SS")
    elif field == "status" and value not in KNOWN_STATUSES:
        yield Finding("unknown-status", where, False, f"unknown status {value!r}")


def _grouped(findings: list[Finding]) -> list[Finding]:
    groups: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        # One line per kind and place; the first detail seen stands for the rest.
        key = (
            finding.kind,
            finding.path,
            finding.detail if finding.kind == "unknown-status" else "",
        )
        if key in groups:
            found = groups[key]
            groups[key] = Finding(
                found.kind, found.path, found.breaking, found.detail, found.count + 1
            )
        else:
            groups[key] = finding
    return sorted(groups.values(), key=lambda f: (not f.breaking, f.kind, f.path, f.detail))


def table(findings: list[Finding], source: str) -> str:
    """The findings as a table a person reads."""
    if not findings:
        return f"{source}: no drift from the documented schema or the fixtures\n"
    lines = [f"{source}:", f"  {'class':<11}{'kind':<18}{'where':<34}{'count':>6}  detail"]
    for finding in findings:
        label = "BREAKING" if finding.breaking else "compatible"
        lines.append(
            f"  {label:<11}{finding.kind:<18}{finding.path or '(root)':<34}"
            f"{finding.count:>6}  {finding.detail}"
        )
    breaking = sum(finding.breaking for finding in findings)
    lines.append(
        f"{len(findings)} findings: {breaking} breaking, {len(findings) - breaking} compatible"
    )
    return "\n".join(lines) + "\n"
