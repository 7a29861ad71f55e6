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

import hashlib
import json
import logging
import re
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


def example_name(query: str) -> str:
    """`recorded`, or `recorded-<name>-<value>...` for a normalized query."""
    words = [part for name, value in parse_qsl(query) for part in (name, value)]
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join(words).lower()).strip("-")
    if not slug:
        return "recorded"
    if len(slug) > 60:  # keep names short, and still one per query
        slug = slug[:50].rstrip("-") + "-" + hashlib.sha256(query.encode()).hexdigest()[:8]
    return f"recorded-{slug}"


class Recorder:
    """Writes recorded answers into a fixtures directory."""

    def __init__(self, root: Path, *, anonymize: bool = False, as_default: bool = False) -> None:
        self.root = root
        self.anonymize = anonymize
        self.as_default = as_default
        self.written = 0
        (root / "leads").mkdir(parents=True, exist_ok=True)

    def record(self, query: str, body: bytes, token: bytes) -> Path | None:
        """Write one answer; return its file, or None when it could not be used."""
        leads = self._leads(body, token)
        if leads is None:
            return None
        name = example_name(query)
        text = json.dumps(leads, ensure_ascii=False, indent=2) + "\n"
        path = self.root / "leads" / f"{name}.json"
        write_atomically(path, text)
        default = self.root / "leads" / f"{DEFAULT_EXAMPLE}.json"
        if not query and (self.as_default or not default.exists()):
            write_atomically(default, text)
        self._index(name, query, len(leads))
        self.written += 1
        log.info("recorded %d leads to %s", len(leads), path)
        return path

    def _leads(self, body: bytes, token: bytes) -> list[dict[str, Any]] | None:
        text = body.decode("utf-8", errors="replace")
        secret = token.decode("latin-1")
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
        data: Any = json.loads(text)
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

    def _index(self, name: str, query: str, count: int) -> None:
        path = self.root / INDEX
        try:
            index = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            index = {}  # a broken index is rebuilt, never a reason to stop recording
        index[name] = {
            "query": query,
            "leads": count,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "anonymized": self.anonymize,
        }
        write_atomically(path, json.dumps(dict(sorted(index.items())), indent=2) + "\n")
