"""`fixtures pull` against an upstream that means harm: pages that never end, 429s
that say "now", bombs, a page dripped a byte at a time, JSON nested without end,
and a `.pull/` folder tampered with. Each ends in bounded requests, time and
memory, with one clear message and no traceback; pages pulled are kept."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.http.keys import key_fingerprint
from tests.hostile_upstream import MIB, Asked, Hostile, HostileUpstream, Script, bomb
from tests.support import LEADS_PROXY, ROOT, clean_env, eventually

KEY = "7|a-key-for-a-hostile-upstream"


def lead(number: int) -> dict[str, Any]:
    return {**EXAMPLE_LEAD, "id": number}


def page_of(numbers: range, **paginator: Any) -> Hostile:
    return Hostile(body=json.dumps({"data": [lead(n) for n in numbers], **paginator}).encode())


@pytest.fixture
def hostile() -> Iterator[list[HostileUpstream]]:
    started: list[HostileUpstream] = []
    yield started
    for upstream in started:
        upstream.stop()


# The command's own main, which writes its peak RSS (VmHWM: of this process alone, unlike
# ru_maxrss, which counts the test process's size at the fork) to the file $PEAK_FILE.
PEAK = """
import atexit, os, sys
from leads_proxy.cli import main

def peak():
    with open("/proc/self/status") as status, open(os.environ["PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])

atexit.register(peak)
sys.exit(main())
"""


class Run:
    """A `leads-proxy fixtures pull` process, its output in files; `peak_kib` if asked."""

    def __init__(
        self, upstream: HostileUpstream, out: Path, *args: str, peak: bool = False
    ) -> None:
        self.logs = out.parent / f"{out.name}-{time.monotonic_ns()}"
        self.logs.mkdir(parents=True)
        command = [sys.executable, "-c", PEAK] if peak else [LEADS_PROXY]
        with (self.logs / "out").open("w") as stdout, (self.logs / "err").open("w") as stderr:
            self.process = subprocess.Popen(
                [*command, "fixtures", "pull", "--out", str(out), "--upstream-url",
                 upstream.url, "--progress", "off", *args],
                stdout=stdout, stderr=stderr, text=True, cwd=ROOT,
                env=clean_env(SONDOS_API_KEY=KEY, PEAK_FILE=str(self.logs / "peak")),
            )  # fmt: skip

    def wait(self, within: float = 60) -> int:
        try:
            return self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the pull still ran after {within} s:\n{self.err}") from None

    @property
    def peak_kib(self) -> int:
        return int((self.logs / "peak").read_text())

    @property
    def err(self) -> str:
        return (self.logs / "err").read_text()

    @property
    def out(self) -> str:
        return (self.logs / "out").read_text()


def pulled(
    hostile: list[HostileUpstream], tmp_path: Path, script: Script, *args: str, peak: bool = False
) -> tuple[Run, HostileUpstream, int]:
    upstream = HostileUpstream(script)
    hostile.append(upstream)
    run = Run(upstream, tmp_path / "fixtures", *args, peak=peak)
    return run, upstream, run.wait()


def written(tmp_path: Path) -> list[int]:
    leads = json.loads((tmp_path / "fixtures" / "leads" / "default.json").read_text())
    return [item["id"] for item in leads]


# --- pages that never end -------------------------------------------------------------------


def endless_empty(asked: Asked) -> Hostile:
    """A count of a billion pages, and every page after the first empty."""
    page = int(asked.query["page"])
    return page_of(range(1, 3) if page == 1 else range(0), last_page=10**9, total=10**11)


def endless_link(asked: Asked) -> Hostile:
    """No count, and a next_page_url on every page, to the same two leads."""
    following = f"http://127.0.0.1/api/user/leads?page={int(asked.query['page']) + 1}"
    return page_of(range(1, 3), next_page_url=following)


def growing_count(asked: Asked) -> Hostile:
    """The first page promises 3 pages; each after it a billion, with new leads each."""
    page = int(asked.query["page"])
    return page_of(range(2 * page - 1, 2 * page + 1), last_page=3 if page == 1 else 10**9)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (endless_empty, (2, [1, 2], "page 2 is empty: the end")),
        (endless_link, (2, [1, 2], "page 2 is only leads pulled already: the end")),
        (growing_count, (3, [1, 2, 3, 4, 5, 6], "")),
    ],
    ids=["empty-pages-of-a-billion", "endless-next-page-url", "count-grows-after-page-1"],
)
def test_pull__a_listing_that_never_ends_ends(
    hostile: list[HostileUpstream], tmp_path: Path, script: Script,
    expected: tuple[int, list[int], str],
) -> None:  # fmt: skip
    asked, leads, says = expected
    run, upstream, code = pulled(hostile, tmp_path, script)
    assert code == 0, run.err
    assert upstream.count() == asked
    assert written(tmp_path) == leads
    assert says in run.err


def test_pull__retry_after_now_still_backs_off_and_gives_up_in_time(
    hostile: list[HostileUpstream], tmp_path: Path
) -> None:
    def limited(asked: Asked) -> Hostile:
        page = int(asked.query["page"])
        if page == 1:
            return page_of(range(1, 3), last_page=2)
        when = "0" if len(upstream.asked) % 2 else "Thu, 01 Jan 1970 00:00:00 GMT"
        return Hostile(429, b'{"message": "Too Many Attempts."}', (("Retry-After", when),))

    upstream = HostileUpstream(limited)
    hostile.append(upstream)
    run = Run(upstream, tmp_path / "fixtures")
    eventually(lambda: upstream.count() >= 3, within=30)
    time.sleep(2.5)  # real time passes: 1 s, then 2 s, then 4 s between tries
    try:
        assert upstream.count() <= 5, upstream.count()  # not thousands
    finally:
        run.process.send_signal(signal.SIGINT)
    assert run.wait() == 130, run.err
    assert "rate-limited: waiting 1 s" in run.err
    assert "rate-limited: waiting 2 s" in run.err
    assert "Traceback" not in run.err


# --- a page that costs memory or time -------------------------------------------------------


@pytest.mark.parametrize(
    "encoding", ["gzip", "gzip, gzip", "deflate"], ids=["gzip", "gzip-gzip", "deflate"]
)
def test_pull__a_compression_bomb_stops_at_the_body_bound(
    hostile: list[HostileUpstream], tmp_path: Path, encoding: str
) -> None:
    packed = bomb(320 * MIB, wbits=15) if encoding == "deflate" else bomb(320 * MIB)
    if encoding == "gzip, gzip":
        packed = gzip.compress(packed)
    answer = Hostile(body=packed, headers=(("Content-Encoding", encoding),))
    run, upstream, code = pulled(hostile, tmp_path, lambda _asked: answer, peak=True)
    assert code == 1, run.err
    assert "pull: page 1: the answer is over 67,108,864 bytes once decoded" in run.err
    assert "Traceback" not in run.err
    assert upstream.count() == 1
    assert run.peak_kib < 224 * 1024, run.peak_kib  # the 320 MiB were never held


def test_pull__a_page_dripped_a_byte_at_a_time_has_one_deadline(
    hostile: list[HostileUpstream], tmp_path: Path
) -> None:
    def dripped(asked: Asked) -> Hostile:
        answer = page_of(range(1, 4))
        if len(upstream.asked) == 1:  # the first try: 0.1 s a byte, a minute and more
            return Hostile(body=answer.body, drip=0.1)
        return answer

    upstream = HostileUpstream(dripped)
    hostile.append(upstream)
    run = Run(upstream, tmp_path / "fixtures", "--timeout", "2")
    assert run.wait(within=30) == 0, run.err
    assert "page 1: no whole answer within 2 s: trying again" in run.err
    assert upstream.count() == 2
    assert written(tmp_path) == [1, 2, 3]


DEEP_OBJECT = json.loads('{"a":' * 400 + "1" + "}" * 400)  # within json's own limit


@pytest.mark.parametrize(
    ("body", "args", "says"),
    [
        (b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", (), "nests deeper than 64"),
        (json.dumps({"data": [{**lead(1), "variables": DEEP_OBJECT}]}).encode(), (),
         "nests deeper than 64"),
        (b'{"data": [1, "two", null]}', ("--anonymize",), "does not validate (first at /data/0"),
        (b'{"data": [{"id": []}]}', ("--anonymize",), "does not validate (first at /data/0/id"),
        (b"\xff\xfe not json", (), "page 1: the answer is not JSON"),
    ],
    ids=["deep-array", "deep-variables", "not-objects-anonymized", "bad-id-anonymized",
         "not-json"],
)  # fmt: skip
def test_pull__a_page_that_is_no_page_is_one_message(
    hostile: list[HostileUpstream], tmp_path: Path, body: bytes, args: tuple[str, ...], says: str
) -> None:
    run, _, code = pulled(hostile, tmp_path, lambda _asked: Hostile(body=body), *args)
    assert code == 1, run.err
    assert says in run.err
    assert "Traceback" not in run.err
    assert not (tmp_path / "fixtures" / "leads" / "default.json").exists()


def test_pull__a_bad_page_keeps_the_pages_before_it_for_resume(
    hostile: list[HostileUpstream], tmp_path: Path
) -> None:
    broken = [True]

    def script(asked: Asked) -> Hostile:
        page = int(asked.query["page"])
        if page == 2 and broken[0]:
            return Hostile(body=b'{"data": [')
        return page_of(range(2 * page - 1, 2 * page + 1), last_page=3)

    run, upstream, code = pulled(hostile, tmp_path, script)
    assert code == 1, run.err
    assert "page 2: the answer is not JSON; the 1 page pulled so far is kept in" in run.err
    broken[0] = False
    again = Run(upstream, tmp_path / "fixtures", "--resume")
    assert again.wait() == 0, again.err
    assert written(tmp_path) == [1, 2, 3, 4, 5, 6]
    assert [asked.query["page"] for asked in upstream.asked] == ["1", "2", "2", "3"]


# --- a tampered .pull/ folder ---------------------------------------------------------------


# Each a state.json (text, or changes to a real state) and page files beside it.
TAMPERED: dict[str, tuple[str | dict[str, Any], dict[str, str], str]] = {
    "not-json": ("{not json", {}, "state.json is not a pull's state (not a JSON file)"),
    "not-object": ("[1, 2]", {}, "(not a JSON object)"),
    "deep-state": ("[" * 100_000, {}, "(not a JSON file)"),
    "pages-not-list": ({"pages": "all"}, {}, "(pages is not a list of page numbers"),
    "page-twice": ({"pages": [1, 1]}, {}, "(pages names a page twice)"),
    "page-not-whole": ({"pages": [1.5]}, {}, "(pages is not a list of page numbers"),
    "page-zero": ({"pages": [0]}, {}, "(pages is not a list of page numbers"),
    "count-a-string": ({"last_page": "9"}, {}, "(last_page is not a whole number)"),
    "page-missing": ({"pages": [1]}, {}, "page-000001.json: missing, not a page this pull"),
    "page-not-list": ({"pages": [1]}, {"page-000001.json": "{}"}, "not a list of leads"),
    "page-deep": ({"pages": [1]}, {"page-000001.json": "[" * 100_000}, "not a JSON file"),
    "page-bad-lead": ({"pages": [1]}, {"page-000001.json": '[{"id": [1]}]'}, "does not valid"),
}


@pytest.mark.parametrize(("state", "pages", "says"), TAMPERED.values(), ids=TAMPERED)
def test_pull__a_tampered_state_folder_is_one_message(
    hostile: list[HostileUpstream], tmp_path: Path, state: str | dict[str, Any],
    pages: dict[str, str], says: str,
) -> None:  # fmt: skip
    upstream = HostileUpstream(lambda asked: page_of(range(1, 3)))
    hostile.append(upstream)
    folder = tmp_path / "fixtures" / ".pull"
    folder.mkdir(parents=True)
    real = {"upstream": str(httpx.Client(base_url=upstream.url).base_url), "anonymize": False,
            "key": key_fingerprint(KEY.encode()), "pages": []}  # fmt: skip
    text = state if isinstance(state, str) else json.dumps({**real, **state})
    (folder / "state.json").write_text(text)
    for name, content in pages.items():
        (folder / name).write_text(content)
    run = Run(upstream, tmp_path / "fixtures", "--resume")
    assert run.wait() == 1, run.err
    assert says in run.err
    assert "Traceback" not in run.err
    assert upstream.count() == 0
