"""Recordings: the upstream's 200s as record mode saw them, and how they are read back.

A fixtures folder may hold, beside `leads/`:

    recordings.json              the index: which query (and key) made which file
    recordings/<name>.json       one 200 body as the upstream sent it

Index format 2 (written by this version):

    {"format": 2, "recordings": {"<name>": {"query": "<canonical query>",
        "key": "<8 hex: the key's fingerprint>", "file": "recordings/<name>.json",
        "shape": "array" | "paginator", "leads": 12, "recorded_at": "...",
        "anonymized": false}}}

(`"key": null` marks a recording kept from format 1: it answers any key.)

The body is kept byte for byte, except that every occurrence of the upstream's
base URL (written plainly or with JSON's escaped slashes) is replaced by
`UPSTREAM` and re-based onto the serving host when replayed. If the body held
the API key it was redacted, and with `--anonymize` personal data was
replaced; those bodies are re-encoded.

Format 1 (before): the index maps `<name>` to `{"query": ..., "leads": ...}`
and the answer is `leads/<name>.json`, the bare array of leads: replayed to
any key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.schema import LEADS, LeadsPage

INDEX = "recordings.json"
FOLDER = "recordings"
FORMAT = 2
UPSTREAM = "{{upstream}}"  # the upstream's base URL, as stored


def key_fingerprint(token: bytes) -> str:
    """A short, stable fingerprint of an API key for recordings (never the key)."""
    return hashlib.blake2b(token, digest_size=4, person=b"leads-recording").hexdigest()


def rebased_out(body: bytes, upstream: str) -> bytes:
    """The body with the upstream's base URL (plain or JSON-escaped) as `UPSTREAM`."""
    base = upstream.rstrip("/")
    for spelling in (base, base.replace("/", "\\/")):
        body = body.replace(spelling.encode(), UPSTREAM.encode())
    return body


def rebased_in(body: bytes, base: str) -> bytes:
    """A stored body with `UPSTREAM` replaced by this server's base URL."""
    return body.replace(UPSTREAM.encode(), base.rstrip("/").encode())


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded 200: what asked for it, and its stored body."""

    name: str
    query: str  # canonical
    key: str | None  # None: recorded before keys were kept (format 1), for any key
    body: bytes
    file: Path


@dataclass(frozen=True, slots=True)
class RecordingProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def load_recordings(root: Path) -> tuple[list[Recording], list[RecordingProblem]]:
    """Every recording the folder's index names, and what is wrong with the rest."""
    index_path = root / INDEX
    if not index_path.exists():
        return [], []
    problems: list[RecordingProblem] = []
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:
        return [], [RecordingProblem(index_path, f"not a readable JSON index: {error}")]
    entries, format_2 = _entries(index)
    if entries is None:
        return [], [RecordingProblem(index_path, "not a recordings index (see docs/fixtures.md)")]
    found: list[Recording] = []
    for name, entry in sorted(entries.items()):
        recording = _recording(root, name, entry, format_2=format_2, problems=problems)
        if recording is not None:
            found.append(recording)
    return found, problems


def _entries(index: Any) -> tuple[dict[str, Any] | None, bool]:
    if isinstance(index, dict) and index.get("format") == FORMAT:
        entries = index.get("recordings")
        return (entries, True) if isinstance(entries, dict) else (None, True)
    if isinstance(index, dict) and "format" not in index:
        return index, False
    return None, False


def _recording(
    root: Path, name: str, entry: Any, *, format_2: bool, problems: list[RecordingProblem]
) -> Recording | None:
    index_path = root / INDEX
    if not isinstance(entry, dict) or not isinstance(entry.get("query"), str):
        problems.append(RecordingProblem(index_path, f"{name!r}: no query"))
        return None
    key = entry.get("key") if format_2 else None
    file = root / entry["file"] if format_2 and isinstance(entry.get("file"), str) else None
    if format_2 and (file is None or not (key is None or isinstance(key, str))):
        problems.append(RecordingProblem(index_path, f"{name!r}: no file, or a bad key"))
        return None
    path = file if file is not None else root / "leads" / f"{name}.json"
    if not path.resolve().is_relative_to(root.resolve()):
        problems.append(RecordingProblem(index_path, f"{name!r}: its file is outside the folder"))
        return None
    try:
        body = path.read_bytes()
    except OSError:
        problems.append(RecordingProblem(path, f"missing: the index names it for {name!r}"))
        return None
    if (message := _invalid(body)) is not None:
        problems.append(RecordingProblem(path, message))
        return None
    return Recording(name=name, query=entry["query"], key=key, body=body, file=path)


def _invalid(body: bytes) -> str | None:
    """Why a stored body cannot be replayed (not JSON, not the documented shapes), or None."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return "not JSON"
    try:
        if isinstance(data, list):
            LEADS.validate_python(data)
        else:
            LeadsPage.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = "/" + "/".join(str(part) for part in first["loc"])
        return (
            f"not a documented answer ({error.error_count()} problems, first at {where}: "
            f"{first['msg']})"
        )
    return None
