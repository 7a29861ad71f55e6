"""Record mode: what the upstream answers, kept for replay with no secrets.

Each distinct (canonical query, API key) that answers 200 becomes
`recordings/<name>.<key fingerprint>.json`, the body as the upstream sent it
(the bare array or the paginator, URLs re-based: app.recordings), and
`recordings.json` says which query and key made which file; mock mode replays
them. An unfiltered bare array also becomes `leads/default.json` when there is
none yet, or always with `as_default`, so mock mode can emulate filters over
it. Files are replaced atomically. Only bodies are written: no header, no key,
no cookie; a body that contains the bearer token has it redacted, and with
`anonymize` personal data is replaced by fakes. A body that does not validate
against the documented schema is not written (mock mode could not serve it):
a warning says why.
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
from app.fixtures import DEFAULT_EXAMPLE, encode, write_atomically
from app.recordings import FOLDER, FORMAT, INDEX, key_fingerprint, rebased_out
from app.schema import LEADS, LeadsPage

log = logging.getLogger("leads_proxy")
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
    """Writes recorded answers into a fixtures directory (see app.recordings).

    The index is kept in memory: read once at start (a format 1 index is
    carried over), written atomically when a new recording is made and when
    recording ends. Each (canonical query, key) has one file.
    """

    def __init__(
        self,
        root: Path,
        *,
        upstream: str = "https://app.sondos-ai.com/api",
        anonymize: bool = False,
        as_default: bool = False,
        max_recordings: int = MAX_RECORDINGS,
    ) -> None:
        self.root = root
        self.upstream = upstream
        self.anonymize = anonymize
        self.as_default = as_default
        self.max_recordings = max_recordings
        self.written = 0
        self._full_told = False
        self._dirty = False
        self._lock = threading.Lock()
        (root / "leads").mkdir(parents=True, exist_ok=True)
        (root / FOLDER).mkdir(exist_ok=True)
        self._index: dict[str, dict[str, Any]] = self._read_index()
        self._names = {(entry["query"], entry["key"]): name for name, entry in self._index.items()}

    def record(self, query: str, body: bytes, token: bytes) -> Path | None:
        """Write one answer of a canonical query; its file, or None when it was not written.

        Safe to call from several threads at once: one answer is written at a time.
        """
        with self._lock:
            return self._record(query, body, token)

    def _record(self, query: str, body: bytes, token: bytes) -> Path | None:
        key = key_fingerprint(token)
        name = self._names.get((query, key)) or self._new_name(query, key)
        if name is None:
            return None
        kept = self._kept(body, token)
        if kept is None:
            return None
        stored, leads, shape = kept
        path = self.root / FOLDER / f"{name}.json"
        write_atomically(path, stored.decode("utf-8"))
        default = self.root / "leads" / f"{DEFAULT_EXAMPLE}.json"
        if not query and shape == "array" and (self.as_default or not default.exists()):
            write_atomically(default, json.dumps(leads, ensure_ascii=False, indent=2) + "\n")
        new = (query, key) not in self._names
        self._names[query, key] = name
        self._index[name] = {
            "query": query,
            "key": key,
            "file": f"{FOLDER}/{name}.json",
            "shape": shape,
            "leads": len(leads),
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "anonymized": self.anonymize,
        }
        self._dirty = True
        if new:
            self._flush()
        self.written += 1
        log.info("recorded %d leads (%s) to %s", len(leads), shape, path)
        return path

    def flush(self) -> None:
        """Write the index if it changed since it was last written."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._dirty:
            index = {"format": FORMAT, "recordings": dict(sorted(self._index.items()))}
            write_atomically(self.root / INDEX, json.dumps(index, indent=2) + "\n")
            self._dirty = False

    def _new_name(self, query: str, key: str) -> str | None:
        if len(self._names) >= self.max_recordings:
            if not self._full_told:
                self._full_told = True
                log.warning(
                    "recording: %d answers recorded, the most --max-recordings allows; "
                    "answers to other queries are served but not written",
                    len(self._names),
                )
            return None
        name = f"{example_name(query)}.{key}"
        if name in self._index:  # two queries made the same slug
            name = f"{example_name(query)}-{_digest(query)}.{key}"
        return name

    def _read_index(self) -> dict[str, dict[str, Any]]:
        path = self.root / INDEX
        try:
            index = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        except (OSError, ValueError, RecursionError):
            index = None
        if isinstance(index, dict) and index.get("format") == FORMAT:
            index = index.get("recordings")
        elif isinstance(index, dict) and "format" not in index:  # format 1: carried over
            index = {
                name: {**entry, "key": None, "file": f"leads/{name}.json", "shape": "array"}
                for name, entry in index.items()
                if isinstance(entry, dict)
            }
        if not isinstance(index, dict) or not all(
            isinstance(entry, dict)
            and isinstance(entry.get("query"), str)
            and (entry.get("key") is None or isinstance(entry.get("key"), str))
            for entry in index.values()
        ):
            log.warning("recording: %s is not a recordings index; starting a new one", path)
            return {}  # a broken index is rebuilt, never a reason to stop recording
        return index

    def _kept(self, body: bytes, token: bytes) -> tuple[bytes, list[dict[str, Any]], str] | None:
        """(the bytes to store, the leads, the shape); None when it cannot be replayed.

        The upstream's bytes are kept as they came unless the key must be
        redacted or personal data replaced: then the data is written anew.
        """
        try:
            data: Any = json.loads(body)
            body.decode("utf-8")
        except (ValueError, RecursionError):
            log.warning("not recorded: the answer is not JSON this recorder can read")
            return None
        changed = data
        if secrets := _spellings(token):
            changed = redacted(data, secrets)
        paginator = isinstance(changed, dict) and isinstance(changed.get("data"), list)
        if self.anonymize:
            if paginator:
                changed = {**changed, "data": anonymize_leads(changed["data"])}
            elif isinstance(changed, list):
                changed = anonymize_leads(changed)
        try:
            if paginator:
                LeadsPage.model_validate(changed)
            else:
                LEADS.validate_python(changed)
        except ValidationError as error:
            log.warning(
                "not recorded: the answer does not match the documented schema (%d problems, "
                "first at %s: %s)",
                error.error_count(),
                "/" + "/".join(str(part) for part in error.errors()[0]["loc"]),
                error.errors()[0]["msg"],
            )
            return None
        stored = body if changed == data else encode(changed)
        leads: list[dict[str, Any]] = changed["data"] if paginator else changed
        return rebased_out(stored, self.upstream), leads, "paginator" if paginator else "array"
