"""Fixture files: loading, validating once, and selecting a named example.

A fixtures directory holds `leads/<name>.json`, each a documented bare array
of leads; `leads/default.json` is the default answer. Everything is parsed and
validated before anything is served: a single bad file fails the whole load
with one `Problem` per fault, so nothing is ever served half-loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.encoding import gzip_of
from app.generate import generate_leads
from app.recordings import Recording, load_recordings
from app.schema import KNOWN_STATUSES, LEADS

DEFAULT_EXAMPLE = "default"
EXAMPLE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Examples made on first use rather than kept in git: name -> (count, seed).
GENERATED_EXAMPLES: dict[str, tuple[int, int]] = {"large": (10_000, 1)}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a warning) in a fixture file."""

    file: Path
    message: str
    pointer: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = str(self.file)
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        if self.pointer is not None:
            where += f": {self.pointer or '(root)'}"
        return f"{where}: {self.message}"


class FixtureError(Exception):
    """The fixtures cannot be served; `problems` says why, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename: a reader never sees half a file, and a
    crash mid-write leaves the old file (or none), never a broken one."""
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as file:
        try:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        except BaseException:
            Path(file.name).unlink(missing_ok=True)
            raise
    umask = os.umask(0)
    os.umask(umask)
    Path(file.name).chmod(0o666 & ~umask)  # as open() would have made it
    Path(file.name).replace(path)


def encode(data: Any) -> bytes:
    """The wire form of every JSON body leads-proxy makes: compact UTF-8."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


@dataclass(frozen=True, slots=True)
class Fixture:
    """A named example: its leads for filtering, and its ready answer."""

    name: str
    leads: tuple[dict[str, Any], ...]
    body: bytes
    etag: bytes
    gzipped: bytes | None = None  # the body in gzip, made once (None when small)

    @classmethod
    def of(cls, name: str, leads: list[dict[str, Any]]) -> Fixture:
        body = encode(leads)
        return cls(name, tuple(leads), body, etag_of(body), gzip_of(body))


@dataclass(slots=True)
class FixtureSet:
    """The examples that can be served, by name."""

    files: Mapping[str, Fixture]
    warnings: list[Problem] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)  # replayed first (app.replay)
    generated: Mapping[str, Callable[[], list[dict[str, Any]]]] = field(default_factory=dict)
    _made: dict[str, Fixture] = field(default_factory=dict)

    @property
    def default(self) -> Fixture:
        return self.files[DEFAULT_EXAMPLE]

    def names(self) -> list[str]:
        return sorted({*self.files, *self.generated})

    def get(self, name: str) -> Fixture | None:
        found = self.files.get(name) or self._made.get(name)
        if found is None and name in self.generated:
            found = self._made[name] = Fixture.of(name, self.generated[name]())
        return found


def load_fixtures(root: Path) -> FixtureSet:
    """Read and validate every example under `root/leads`; raise FixtureError if any is bad."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    files: dict[str, Fixture] = {}
    for path in _example_files(root, problems):
        leads = _read_leads(path, problems, warnings)
        if leads is not None:
            files[path.stem] = Fixture.of(path.stem, leads)
    if not problems and DEFAULT_EXAMPLE not in files:
        problems.append(
            Problem(root / "leads", f"no {DEFAULT_EXAMPLE}.json: the default answer needs one")
        )
    recordings, unreadable = load_recordings(root)
    problems += [Problem(problem.path, problem.message) for problem in unreadable]
    if problems:
        raise FixtureError(problems)
    generated = {
        name: _generator(count, seed)
        for name, (count, seed) in GENERATED_EXAMPLES.items()
        if name not in files
    }
    return FixtureSet(files=files, warnings=warnings, generated=generated, recordings=recordings)


def check_fixtures(root: Path) -> tuple[list[Problem], list[Problem]]:
    """The problems and warnings `load_fixtures` would find, without raising."""
    try:
        return [], load_fixtures(root).warnings
    except FixtureError as error:
        return error.problems, []


def _generator(count: int, seed: int) -> Callable[[], list[dict[str, Any]]]:
    return lambda: generate_leads(count, seed=seed)


def _example_files(root: Path, problems: list[Problem]) -> Iterator[Path]:
    if not root.is_dir():
        problems.append(Problem(root, "fixtures directory not found"))
        return
    leads_dir = root / "leads"
    if not leads_dir.is_dir():
        problems.append(Problem(root, "no leads/ folder (expected leads/default.json inside)"))
        return
    for path in sorted(leads_dir.glob("*.json")):
        if not EXAMPLE_NAME.fullmatch(path.stem):
            problems.append(
                Problem(path, "bad example name: use letters, digits, '.', '_' and '-'")
            )
            continue
        yield path


def _read_leads(
    path: Path, problems: list[Problem], warnings: list[Problem]
) -> list[dict[str, Any]] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(path, f"cannot read: {error}"))
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problems.append(
            Problem(path, f"malformed JSON: {error.msg}", line=error.lineno, column=error.colno)
        )
        return None
    try:
        LEADS.validate_python(data)
    except ValidationError as error:
        problems.extend(
            Problem(path, _expected(detail), pointer=_pointer(detail["loc"]))
            for detail in error.errors(include_url=False)
        )
        return None
    warnings.extend(_unknown_statuses(path, data))
    return list(data)


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def _expected(detail: ErrorDetails) -> str:
    message = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "missing":
        return "missing required field"
    message = message.removeprefix("Input should be ")
    shown = json.dumps(detail["input"], ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"expected {message}, got {shown}"


def _unknown_statuses(path: Path, leads: list[dict[str, Any]]) -> Iterator[Problem]:
    known = ", ".join(KNOWN_STATUSES)
    for index, lead in enumerate(leads):
        places = [(f"/{index}/status", lead["status"])]
        places += [
            (f"/{index}/secondary_contacts/{sub}/status", contact["status"])
            for sub, contact in enumerate(lead["secondary_contacts"])
        ]
        for pointer, status in places:
            if status not in KNOWN_STATUSES:
                yield Problem(path, f"unknown status {status!r} (known: {known})", pointer=pointer)
