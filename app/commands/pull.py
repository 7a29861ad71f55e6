"""`fixtures pull`: a key's whole listing, page by page, into a complete `default.json`.

The walk asks `per_page=100` and counts pages from the paginator's
`last_page` (or follows `next_page_url` when there is no count); an upstream
that answers a bare array has given everything in one request. A 429 waits
its `Retry-After` (nothing is sent meanwhile), failures are retried a few
times, and `--upstream-max-rps` spaces the requests. Each page is kept in
`DIR/.pull/` as it comes (written atomically, anonymized first when asked), so
an interrupted pull goes on with `--resume`; the fixture is written, atomically,
only when every page is in, and `.pull/` is removed then.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import ValidationError

from ..fixtures.anonymize import anonymize_leads
from ..fixtures.files import DEFAULT_EXAMPLE
from ..fixtures.schema import LEADS
from ..http.files import write_atomically
from ..http.keys import key_fingerprint
from ..proxy.policy import retry_after_seconds

PER_PAGE = 100
STATE = ".pull"
RETRIES = 5
DEFAULT_WAIT = 10.0  # a 429 without a readable Retry-After
MAX_WAIT = 3600.0


class PullError(Exception):
    """The pull cannot go on; the message says why (never the key)."""


@dataclass
class Progress:
    """What the walk has done: pages and leads so far, of how many."""

    pages: int = 0
    last_page: int | None = None
    leads: int = 0
    total: int | None = None
    started: float = field(default_factory=time.monotonic)

    def eta(self, now: float) -> float | None:
        if not self.last_page or not self.pages:
            return None
        return (now - self.started) / self.pages * (self.last_page - self.pages)


@dataclass
class Pull:
    """One pull of the listing a key sees into `out` (a fixtures folder)."""

    client: httpx.Client  # with the upstream's base URL and the key's Authorization
    out: Path
    key: str
    anonymize: bool = False
    max_rps: float | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    report: Callable[[str, Progress], None] = lambda _event, _progress: None
    progress: Progress = field(default_factory=Progress)
    _last_request: float = float("-inf")

    @property
    def state_dir(self) -> Path:
        return self.out / STATE

    def run(self, *, resume: bool) -> Path:
        """Walk every page; the fixture written. Raises PullError; KeyboardInterrupt keeps state."""
        state = self._state(resume=resume)
        page = 1 + max(state["pages"], default=0)
        self.progress.pages = len(state["pages"])
        self.progress.last_page = state.get("last_page")
        self.progress.total = state.get("total")
        self.progress.leads = sum(len(self._page(n)) for n in state["pages"])
        while True:
            answer = self._fetch(page)
            if isinstance(answer, list):  # a bare array: everything, at once
                return self._finish([self._kept(answer)])
            data = answer.get("data")
            if not isinstance(data, list):
                raise PullError(f"page {page}: the answer is neither a list nor a paginator")
            state["last_page"] = self.progress.last_page = _int(answer.get("last_page"))
            state["total"] = self.progress.total = _int(answer.get("total"))
            write_atomically(self.state_dir / f"page-{page:06d}.json", json.dumps(self._kept(data)))
            state["pages"].append(page)
            self._save(state)
            self.progress.pages += 1
            self.progress.leads += len(data)
            self.report("page", self.progress)
            following = _next_page(answer, page)
            if following is None:
                return self._finish([self._page(n) for n in sorted(state["pages"])])
            page = following

    # --- the pages ------------------------------------------------------------------------

    def _fetch(self, page: int) -> Any:
        """One page's answer, parsed; waits out 429s and retries failures."""
        failures = 0
        while True:
            self._pace()
            try:
                response = self.client.get(
                    "/user/leads", params={"per_page": PER_PAGE, "page": page}
                )
            except httpx.HTTPError as error:
                failures = self._again(failures, f"page {page}: {type(error).__name__}")
                continue
            if response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("retry-after"), wall=self.wall())
                wait = min(MAX_WAIT, DEFAULT_WAIT if wait is None else wait)
                self.report(f"rate-limited: waiting {wait:.0f} s", self.progress)
                self.sleep(wait)
                continue
            if response.status_code in {401, 403}:
                raise PullError(f"the upstream refused the key ({response.status_code})")
            if response.status_code >= 500:
                failures = self._again(failures, f"page {page}: {response.status_code}")
                continue
            if response.status_code != 200:
                raise PullError(f"page {page}: the upstream answered {response.status_code}")
            try:
                return response.json()
            except ValueError:
                raise PullError(f"page {page}: the answer is not JSON") from None

    def _again(self, failures: int, what: str) -> int:
        """Wait before trying again (1, 2, 4... s); a PullError after RETRIES tries."""
        if failures >= RETRIES:
            raise PullError(f"{what}, after {RETRIES} retries")
        self.report(f"{what}: trying again", self.progress)
        self.sleep(min(2.0**failures, 30.0))
        return failures + 1

    def _pace(self) -> None:
        if self.max_rps:
            wait = self._last_request + 1 / self.max_rps - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def _kept(self, leads: list[Any]) -> list[Any]:
        return anonymize_leads(leads) if self.anonymize else leads

    def _page(self, number: int) -> list[Any]:
        page: list[Any] = json.loads((self.state_dir / f"page-{number:06d}.json").read_text())
        return page

    # --- the state and the result ---------------------------------------------------------

    def _state(self, *, resume: bool) -> dict[str, Any]:
        path = self.state_dir / "state.json"
        fingerprint = key_fingerprint(self.key.encode())
        wanted = {"upstream": str(self.client.base_url), "key": fingerprint,
                  "anonymize": self.anonymize}  # fmt: skip
        if path.exists():
            if not resume:
                raise PullError(
                    f"an interrupted pull is in {self.state_dir}: add --resume to go on, "
                    "or remove that folder to start again"
                )
            state: dict[str, Any] = json.loads(path.read_text())
            for name, value in wanted.items():
                if state.get(name) != value:
                    raise PullError(f"{self.state_dir} is a pull with another {name}: remove it")
            return state
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {**wanted, "pages": []}
        self._save(state)
        return state

    def _save(self, state: dict[str, Any]) -> None:
        write_atomically(self.state_dir / "state.json", json.dumps(state))

    def _finish(self, pages: list[list[Any]]) -> Path:
        leads = [lead for page in pages for lead in page]
        try:
            LEADS.validate_python(leads)
        except ValidationError as error:
            first = error.errors()[0]
            where = "/" + "/".join(str(part) for part in first["loc"])
            message = f"the listing does not validate (first at {where}: {first['msg']})"
            raise PullError(message) from None
        path = self.out / "leads" / f"{DEFAULT_EXAMPLE}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(leads, ensure_ascii=False, indent=None if len(leads) > 1000 else 2)
        write_atomically(path, text + "\n")
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.progress.leads = len(leads)
        self.report("done", self.progress)
        return path


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _next_page(answer: dict[str, Any], page: int) -> int | None:
    """The page after `page`: by the count when there is one, else from next_page_url."""
    last = _int(answer.get("last_page"))
    if last is not None:
        return page + 1 if page < last else None
    following = answer.get("next_page_url")
    if not isinstance(following, str):
        return None
    number = parse_qs(urlsplit(following).query).get("page", [""])[-1]
    return int(number) if number.isdigit() and int(number) > page else None
