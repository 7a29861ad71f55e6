"""Settings in words: flag and env var names, what a good value looks like, and
one line per bad value, all read off the declarations in `settings.declarations`."""

from __future__ import annotations

import enum
from typing import Any

from pydantic import ValidationError

from .declarations import ENV_PREFIX, SECRETS, Settings
from .values import BAD_OPTION


class SettingsError(ValueError):
    """A setting has a bad value; the message is one line meant for a person."""


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def describe_settings_error(error: ValidationError) -> str:
    """One line per bad setting, naming its flag, its env twin and what is valid."""
    lines = []
    for problem in error.errors():
        if not problem["loc"]:  # a rule across settings: its message says it all
            lines.append(str(problem["msg"]).removeprefix("Value error, "))
            continue
        field = str(problem["loc"][0])
        given = problem.get("input")
        secret = field in SECRETS
        shown = f" {given!r}" if isinstance(given, str | int) and not secret else ""
        said = str(problem["msg"]).removeprefix("Value error, ")
        what = said.removeprefix(BAD_OPTION) if said.startswith(BAD_OPTION) else None
        lines.append(
            f"invalid value{shown} for {flag_name(field)} / {env_name(field)}: "
            + (what or f"expected {expected(field)}")
        )
    return "\n".join(lines)


def extra(field: str) -> dict[str, Any]:
    """What `setting` declared of a field beyond pydantic's own: group, metavar, ..."""
    declared = Settings.model_fields[field].json_schema_extra
    return declared if isinstance(declared, dict) else {}


def choices(field: str) -> list[str] | None:
    """The values an enum setting takes, or None for any other setting."""
    annotation = Settings.model_fields[field].annotation
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    return None


def expected(field: str) -> str:
    """What a good value of the setting looks like, from its declaration."""
    if field not in Settings.model_fields:
        return "unknown setting"
    if (values := choices(field)) is not None:
        return "one of " + ", ".join(values)
    if said := extra(field).get("expected"):
        return str(said)
    info = Settings.model_fields[field]
    bounds = {
        name: getattr(rule, name) for rule in info.metadata for name in ("ge", "gt", "le", "lt")
        if hasattr(rule, name)
    }  # fmt: skip
    length = next((rule.min_length for rule in info.metadata if hasattr(rule, "min_length")), None)
    if length is not None and info.annotation is not str:
        return f"at least {length} characters"
    kind = "a whole number" if info.annotation is int else "a number"
    if "ge" in bounds and "le" in bounds:
        return f"{kind} from {bounds['ge']:g} to {bounds['le']:g}"
    if "gt" in bounds and "le" in bounds:
        return f"{kind} above {bounds['gt']:g}, at most {bounds['le']:g}"
    if "ge" in bounds:
        return f"{kind}, {bounds['ge']:g} or more"
    if "gt" in bounds:
        return f"{kind} above {bounds['gt']:g}"
    return kind if info.annotation in {int, float} else "a non-empty value"


def load_settings(**given: Any) -> Settings:
    """Build Settings from flags given (None means not given) over the environment."""
    try:
        return Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as error:
        raise SettingsError(describe_settings_error(error)) from None
