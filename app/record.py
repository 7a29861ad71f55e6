"""Record mode: what the upstream answers, written as fixtures with no secrets.

Each distinct leads query that answers 200 becomes `leads/<name>.json` under
the fixtures directory (`recorded` for no query, `recorded-status-completed`
for `?status=completed`), and `recordings.json` beside `leads/` says which
query made which file. The unfiltered answer also becomes `default.json` when
there is none yet, or always with `as_default`, so mock mode can serve the
folder as it is. Files are replaced atomically. Only the leads are
written: no header, no key, no cookie; a body that contains the bearer token
has it redacted, and with `anonymize` personal data is replaced by fakes. A
body that does not validate against the documented schema is not written
(mock mode could not serve it): a warning says why.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from app.anonymize import anonymize_leads
from app.fixtures import DEFAULT_EXAMPLE, write_atomically
from app.schema import LEADS

log = logging.getLogger("leads_proxy")
INDEX = "recordings.json"
REDACTED = "[redacted]"
MAX_RECORDINGS = 1000
SECRET_LENGTH = 16  # shorter tokens are redacted only where a whole value is the token


def example_name(query: str) -> str:
    """`recorded`, or `recorded-<name>-<value>...` for a canonical query (not always unique)."""
    words = [
        part for name, value in parse_qsl(query, keep_blank_values=True) for part in (name, value)
    ]
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join(words).lower()).strip("-")
    if not slug:
        return "recorded" if not query else f"recorded-{_digest(query)}"
    if len(slug) > 60:  # keep names short
        slug = slug[:50].rstrip("-") + "-" + _digest(query)
    return f"recorded-{slug}"


def _digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:8]


def redacted(data: Any, secrets: frozenset[str]) -> Any:
    """`data` with each secret replaced in its strings (keys too), after JSON decoding.

    A secret of `SECRET_LENGTH` characters or more is replaced wherever it occurs
    in a string; a shorter one only where a value is the secret itself (or
    `Bearer <secret>`): a token of `1`, `id` or `2025` is no secret inside a
    phone number, a field name or a timestamp, and replacing it there would
    only corrupt the data.
    """
    if isinstance(data, str):
        return _redacted_string(data, secrets, whole=True)
    if isinstance(data, list):
        return [redacted(item, secrets) for item in data]
    if isinstance(data, dict):
        return {
            _redacted_string(key, secrets, whole=False): redacted(value, secrets)
            for key, value in data.items()
        }
    return data


def _redacted_string(text: str, secrets: frozenset[str], *, whole: bool) -> str:
    for secret in secrets:
        if len(secret) >= SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
        elif whole and text in {secret, f"Bearer {secret}"}:
            return REDACTED
    return text


def _spellings(token: bytes) -> frozenset[str]:
    """The token as a string, read as the header's bytes (latin-1) and, if it is, as UTF-8."""
    spellings = {token.decode("latin-1")}
    with contextlib.suppress(UnicodeDecodeError):
        spellings.add(token.decode("utf-8"))
    return frozenset(spelling for spelling in spellings if spelling)


class Recorder:
    """Writes recorded answers into a fixtures directory.

    The index (`recordings.json`) is kept in memory: read once at start,
    written (atomically) when a new query is recorded and when recording ends.
    Each canonical query has one file; when two queries make the same slug,
    the later one's name carries a short hash of its query.
    """

    def __init__(
        self,
        root: Path,
        *,
        anonymize: bool = False,
        as_default: bool = False,
        max_recordings: int = MAX_RECORDINGS,
    ) -> None:
        self.root = root
        self.anonymize = anonymize
        self.as_default = as_default
        self.max_recordings = max_recordings
        self.written = 0
        self._full_told = False
        self._dirty = False
        self._lock = threading.Lock()
        (root / "leads").mkdir(parents=True, exist_ok=True)
        self._index: dict[str, dict[str, Any]] = self._read_index()
        self._names = {entry["query"]: name for name, entry in self._index.items()}

    def record(self, query: str, body: bytes, token: bytes) -> Path | None:
        """Write one answer of a canonical query; its file, or None when it was not written.

        Safe to call from several threads at once: one answer is written at a time.
        """
        with self._lock:
            return self._record(query, body, token)

    def _record(self, query: str, body: bytes, token: bytes) -> Path | None:
        name = self._names.get(query) or self._new_name(query)
        if name is None:
            return None
        leads = self._leads(body, token)
        if leads is None:
            return None
        text = json.dumps(leads, ensure_ascii=False, indent=2) + "\n"
        path = self.root / "leads" / f"{name}.json"
        write_atomically(path, text)
        default = self.root / "leads" / f"{DEFAULT_EXAMPLE}.json"
        if not query and (self.as_default or not default.exists()):
            write_atomically(default, text)
        new = query not in self._names
        self._names[query] = name
        self._index[name] = {
            "query": query,
            "leads": len(leads),
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "anonymized": self.anonymize,
        }
        self._dirty = True
        if new:
            self._flush()
        self.written += 1
        log.info("recorded %d leads to %s", len(leads), path)
        return path

    def flush(self) -> None:
        """Write the index if it changed since it was last written."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._dirty:
            index = dict(sorted(self._index.items()))
            write_atomically(self.root / INDEX, json.dumps(index, indent=2) + "\n")
            self._dirty = False

    def _new_name(self, query: str) -> str | None:
        if len(self._names) >= self.max_recordings:
            if not self._full_told:
                self._full_told = True
                log.warning(
                    "recording: %d queries recorded, the most --max-recordings allows; "
                    "answers to other queries are served but not written",
                    len(self._names),
                )
            return None
        name = example_name(query)
        if name in self._index and self._index[name]["query"] != query:
            name = f"{name}-{_digest(query)}"
        return name

    def _read_index(self) -> dict[str, dict[str, Any]]:
        path = self.root / INDEX
        try:
            index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError, RecursionError):
            index = None
        if not isinstance(index, dict) or not all(
            isinstance(entry, dict) and isinstance(entry.get("query"), str)
            for entry in index.values()
        ):
            log.warning("recording: %s is not a recordings index; starting a new one", path)
            return {}  # a broken index is rebuilt, never a reason to stop recording
        return index

    def _leads(self, body: bytes, token: bytes) -> list[dict[str, Any]] | None:
        try:
            data: Any = json.loads(body)
        except (ValueError, RecursionError):
            log.warning("not recorded: the answer is not JSON this recorder can read")
            return None
        if secrets := _spellings(token):
            data = redacted(data, secrets)
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            data = data["data"]  # a paginator: fixtures hold the bare array
        if self.anonymize and isinstance(data, list):
            data = anonymize_leads(data)
        try:
            LEADS.validate_python(data)
        except ValidationError as error:
            log.warning(
                "not recorded: the answer does not match the documented schema (%d problems, "
                "first at %s: %s)",
                error.error_count(),
                "/" + "/".join(str(part) for part in error.errors()[0]["loc"]),
                error.errors()[0]["msg"],
            )
            return None
        leads: list[dict[str, Any]] = data
        return leads
