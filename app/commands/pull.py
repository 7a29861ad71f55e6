"""`fixtures pull`: a key's whole listing, page by page, into a complete `default.json`.

The walk asks `per_page=100` and counts pages from the paginator's
`last_page` (or follows `next_page_url` when there is no count); an upstream
that answers a bare array has given everything in one request. Each page is
validated and kept in `DIR/.pull/` as it comes (written atomically, anonymized
first when asked), so an interrupted pull goes on with `--resume`; the fixture
is written, atomically, only when every page is in, and `.pull/` is removed then.

No upstream keeps a pull going, or makes it wait, without end. The walk ends
at an empty page, at a page whose leads were all pulled already, and at the
last page the first page promised; it stops, saying so, past MAX_PAGES pages
or MAX_LEADS leads. Each page has one deadline for its whole answer (the
client's timeout: a page dripped a byte at a time trips it too) and is read no
further than MAX_ANSWER_BYTES, as it came or decoded (`pages.get`). A 429
waits its Retry-After (nothing is sent meanwhile), but at least 1, 2, 4... s
for the 429s in a row (to BACKOFF_CAP), and the RATE_LIMITS-th in a row stops
the pull; failures are tried again RETRIES times, and `--upstream-max-rps`
spaces the requests. Whatever stops a pull is one message, and the pages
pulled so far stay in `.pull/` for `--resume`.
"""

from __future__ import annotations

import json
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
from ..http.keys import key_fingerprint
from ..proxy.policy import retry_after_seconds
from .pages import PullError, Retry, get
from .pull_state import Kept, whole, write

PER_PAGE = 100
RETRIES = 5  # failures of one page (no whole answer, a 5xx) tried again
RATE_LIMITS = 8  # 429s in a row for one page: the pull stops at the next
WAIT_FLOOR = 1.0  # the least wait after a 429, whatever its Retry-After says
BACKOFF_CAP = 300.0  # the floor doubles with each 429 in a row, up to this
DEFAULT_WAIT = 10.0  # a 429 without a readable Retry-After
MAX_WAIT = 3600.0
MAX_PAGES = 10_000  # 1,000,000 leads at 100 a page
MAX_LEADS = 1_000_000
DEFAULT_TIMEOUT = 30.0  # seconds for a page's whole answer, when the client has none

__all__ = ["Progress", "Pull", "PullError"]


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
    timeout: float | None = None  # a page's deadline; None: the client's read timeout
    max_pages: int = MAX_PAGES
    max_leads: int = MAX_LEADS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    report: Callable[[str, Progress], None] = lambda _event, _progress: None
    progress: Progress = field(default_factory=Progress)
    _last_request: float = float("-inf")

    def __post_init__(self) -> None:
        wanted = {"upstream": str(self.client.base_url), "anonymize": self.anonymize,
                  "key": key_fingerprint(self.key.encode())}  # fmt: skip
        self.kept = Kept(self.out, wanted, max_pages=self.max_pages)

    @property
    def state_dir(self) -> Path:
        return self.kept.dir

    def run(self, *, resume: bool) -> Path:
        """Walk every page; the fixture written. Raises PullError; KeyboardInterrupt keeps state."""
        state = self.kept.open(resume=resume)
        seen: set[Any] = set()
        self.progress.pages = len(state["pages"])
        self.progress.last_page = state.get("last_page")
        self.progress.total = state.get("total")
        for number in state["pages"]:
            leads = self.kept.page(number)
            _validate(leads, f"{self.state_dir}: page {number}: ")
            self.progress.leads += len(leads)
            seen.update(lead.get("id") for lead in leads if isinstance(lead, dict)
                        and isinstance(lead.get("id"), int | str))  # fmt: skip
        try:
            return self._walk(state, seen)
        except PullError as error:
            kept = len(state["pages"])
            if not kept:
                raise
            pages = f"{kept:,} pages pulled so far are" if kept > 1 else "1 page pulled so far is"
            raise PullError(f"{error}; the {pages} kept in {self.state_dir} for --resume") from None

    def _walk(self, state: dict[str, Any], seen: set[Any]) -> Path:
        page = 1 + max(state["pages"], default=0)
        while True:
            if page > self.max_pages:
                raise PullError(
                    f"the listing goes on past {self.max_pages:,} pages, the most pulled"
                )
            answer = self._fetch(page)
            if isinstance(answer, list):  # a bare array: everything, at once
                if state["pages"]:
                    raise PullError(f"page {page}: a bare array after pages of a paginator")
                _validate(answer, f"page {page}: ")
                return self._finish([self._kept(answer)])
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise PullError(f"page {page}: the answer is neither a list nor a paginator")
            _validate(data, f"page {page}: ", "/data")
            ids = {lead["id"] for lead in data}
            if ids <= seen:  # empty, or nothing new: where a listing that never ends ends
                what = "empty" if not data else "only leads pulled already"
                self.report(f"page {page} is {what}: the end", self.progress)
                return self._finish(self._all(state))
            if self.progress.leads + len(data) > self.max_leads:
                raise PullError(
                    f"the listing goes on past {self.max_leads:,} leads, the most pulled"
                )
            said = whole(answer.get("last_page"))
            promised = state.setdefault("promised", said)  # the first page's count holds
            bounds = [count for count in (said, promised) if count is not None]
            state["last_page"] = self.progress.last_page = min(bounds) if bounds else None
            state["total"] = self.progress.total = whole(answer.get("total"))
            self.kept.keep(page, self._kept(data))
            state["pages"].append(page)
            self.kept.save(state)
            seen |= ids
            self.progress.pages += 1
            self.progress.leads += len(data)
            self.report("page", self.progress)
            following = _next_page(answer, page, state["last_page"])
            if following is None:
                return self._finish(self._all(state))
            page = following

    # --- the pages ------------------------------------------------------------------------

    def _fetch(self, page: int) -> Any:
        """One page's answer, parsed; waits out 429s and retries failures."""
        failures = limited = 0
        deadline = self.timeout or self.client.timeout.read or DEFAULT_TIMEOUT
        params = {"per_page": PER_PAGE, "page": page}
        while True:
            self._pace()
            try:
                status, headers, answer = get(self.client, params, deadline=deadline)
            except Retry as failure:
                failures = self._again(failures, f"page {page}: {failure}")
                continue
            if status == 429:
                limited += 1
                if limited > RATE_LIMITS:
                    raise PullError(f"page {page}: still rate-limited after {RATE_LIMITS} waits")
                self.sleep(self._rate_wait(headers.get("retry-after"), limited))
                continue
            if status in {401, 403}:
                raise PullError(f"the upstream refused the key ({status})")
            if status >= 500:
                failures = self._again(failures, f"page {page}: {status}")
                continue
            if status != 200:
                raise PullError(f"page {page}: the upstream answered {status}")
            return answer

    def _rate_wait(self, retry_after: str | None, limited: int) -> float:
        """Its Retry-After (capped), but no less than the floor for the `limited`-th in a row."""
        said = retry_after_seconds(retry_after, wall=self.wall())
        floor = min(WAIT_FLOOR * 2.0 ** (limited - 1), BACKOFF_CAP)
        wait = max(floor, min(MAX_WAIT, DEFAULT_WAIT if said is None else said))
        self.report(f"rate-limited: waiting {wait:.0f} s", self.progress)
        return wait

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

    def _all(self, state: dict[str, Any]) -> list[list[Any]]:
        return [self.kept.page(number) for number in sorted(state["pages"])]

    def _finish(self, pages: list[list[Any]]) -> Path:
        leads = [lead for page in pages for lead in page]  # each validated as it came
        path = self.out / "leads" / f"{DEFAULT_EXAMPLE}.json"
        text = json.dumps(leads, ensure_ascii=False, indent=None if len(leads) > 1000 else 2)
        write(path, text + "\n")
        self.kept.remove()
        self.progress.leads = len(leads)
        self.report("done", self.progress)
        return path


def _validate(leads: list[Any], where: str, prefix: str = "") -> None:
    """A PullError naming the first place where `leads` are not a listing's leads."""
    try:
        LEADS.validate_python(leads)
    except ValidationError as error:
        first = error.errors()[0]
        at = prefix + "/" + "/".join(str(part) for part in first["loc"])
        message = f"{where}the listing does not validate (first at {at}: {first['msg']})"
        raise PullError(message) from None


def _next_page(answer: dict[str, Any], page: int, last: int | None) -> int | None:
    """The page after `page`: by the count when there is one, else from next_page_url."""
    if last is not None:
        return page + 1 if page < last else None
    following = answer.get("next_page_url")
    if not isinstance(following, str):
        return None
    number = parse_qs(urlsplit(following).query).get("page", [""])[-1]
    if not (number.isascii() and number.isdigit() and len(number) <= 9):
        return None
    return int(number) if int(number) > page else None
