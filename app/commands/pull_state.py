"""A pull's `.pull/` folder: its state and the pages kept so far, read back with care.

`state.json` names the upstream, the key's fingerprint and whether leads are
anonymized (a resume must match all three), the pages kept and the counts the
upstream gave. Everything read back is checked: a folder that was edited,
cut short or written by something else is one PullError naming the file and
what is wrong with it, never a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..http.files import write_atomically
from .pages import MAX_DEPTH, PullError, too_deep

STATE = ".pull"
COUNTS = ("last_page", "total", "promised")


def whole(value: Any) -> int | None:
    """`value` when it is a JSON whole number (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def write(path: Path, text: str) -> None:
    """Write `text` atomically; a PullError when it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    except OSError as error:
        raise PullError(f"cannot write {path}: {error.strerror or error}") from None


class Kept:
    """The `.pull/` folder in `out`, for the pull that `wanted` describes."""

    def __init__(self, out: Path, wanted: dict[str, Any], *, max_pages: int) -> None:
        self.dir = out / STATE
        self.wanted = wanted
        self.max_pages = max_pages

    def open(self, *, resume: bool) -> dict[str, Any]:
        """The state: a new one, or the interrupted pull's when `resume` is given."""
        path = self.dir / "state.json"
        if path.exists():
            if not resume:
                raise PullError(
                    f"an interrupted pull is in {self.dir}: add --resume to go on, "
                    "or remove that folder to start again"
                )
            state = self._read(path)
            for name, value in self.wanted.items():
                if state.get(name) != value:
                    raise PullError(f"{self.dir} is a pull with another {name}: remove it")
            return state
        state = {**self.wanted, "pages": []}
        self.save(state)
        return state

    def save(self, state: dict[str, Any]) -> None:
        write(self.dir / "state.json", json.dumps(state))

    def keep(self, number: int, leads: list[Any]) -> None:
        write(self._path(number), json.dumps(leads))

    def page(self, number: int) -> list[Any]:
        """A page kept here; a PullError when it is not one this pull wrote."""
        path = self._path(number)
        try:
            page = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problem = "missing"
        except (OSError, ValueError, RecursionError):
            problem = "not a JSON file"
        else:
            if isinstance(page, list) and not too_deep(page, MAX_DEPTH):
                return page
            problem = "not a list of leads"
        raise PullError(
            f"{path}: {problem}, not a page this pull wrote: remove {self.dir} to start again"
        )

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _path(self, number: int) -> Path:
        return self.dir / f"page-{number:06d}.json"

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            problem: str | None = "not a JSON file"
        else:
            problem = self._problem(state)
        if problem:
            raise PullError(
                f"{path} is not a pull's state ({problem}): remove {self.dir} to start again"
            )
        read: dict[str, Any] = state
        return read

    def _problem(self, state: Any) -> str | None:
        if not isinstance(state, dict):
            return "not a JSON object"
        pages = state.get("pages")
        if not isinstance(pages, list) or not all(
            whole(page) is not None and 1 <= page <= self.max_pages for page in pages
        ):
            return f"pages is not a list of page numbers from 1 to {self.max_pages:,}"
        if len(set(pages)) != len(pages):
            return "pages names a page twice"
        for name in COUNTS:
            if state.get(name) is not None and whole(state[name]) is None:
                return f"{name} is not a whole number"
        return None
