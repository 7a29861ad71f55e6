"""The commands besides `serve`: fixtures validate|generate|anonymize|pull, contract check.

Each takes the parsed arguments and returns the exit status; none starts the
web stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..fixtures.anonymize import anonymize_leads
from ..fixtures.files import FixtureError, check_fixtures, load_fixtures
from ..fixtures.generate import generate_leads
from ..fixtures.reading import Unreadable, parse_json, read_bounded
from ..http.files import write_atomically
from ..settings.defaults import bundled_fixtures_dir
from ..settings.text import env_name
from .contract import check_answer, fixture_shape, table

PROG = "leads-proxy"
MAX_GENERATE = 1_000_000
PROGRESS_FROM = 10_000
PRETTY_UP_TO = 1_000


def fail(message: str, status: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def fixtures_root(given: Path | None) -> Path:
    """The folder named on the command line, else LEADS_PROXY_FIXTURES, else the bundled one."""
    return given or Path(os.environ.get(env_name("fixtures")) or bundled_fixtures_dir())


def validate(args: argparse.Namespace) -> int:
    root = fixtures_root(args.dir)
    problems, warnings = check_fixtures(root)
    for line in [*problems, *(f"warning: {warning}" for warning in warnings)]:
        print(line)
    if problems:
        print(f"{len(problems)} problem(s) in {root}")
        return 1
    print(f"{root}: valid")
    return 0


def generate(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= MAX_GENERATE:
        return fail(f"--count must be from 1 to {MAX_GENERATE:,}, not {args.count}")
    if args.seed < 0:
        return fail(f"--seed must be 0 or more, not {args.seed}")
    out: Path = args.out
    if not out.parent.is_dir():
        return fail(f"--out {out}: folder {out.parent} does not exist")
    show = args.progress == "on" or (
        args.progress == "auto" and args.count >= PROGRESS_FROM and sys.stderr.isatty()
    )
    leads = generate_leads(
        args.count, seed=args.seed, progress=_progress_bar(args.count) if show else None
    )
    # Small files are indented for reading; large ones hold one lead per line,
    # which diffs as well and encodes several times faster.
    if len(leads) <= PRETTY_UP_TO:
        text = json.dumps(leads, ensure_ascii=False, indent=2)
    else:
        text = "[\n" + ",\n".join(json.dumps(lead, ensure_ascii=False) for lead in leads) + "\n]"
    write_atomically(out, text + "\n")
    print(f"wrote {args.count:,} leads (seed {args.seed}) to {out}", file=sys.stderr)
    return 0


def anonymize(args: argparse.Namespace) -> int:
    source: Path = args.file
    out: Path = args.out or source
    try:
        data = _json_of(source)
    except Unreadable as error:
        return fail(str(error.problem(source)))
    if not isinstance(data, list) or not all(isinstance(lead, dict) for lead in data):
        return fail(f"{source}: expected a JSON array of leads")
    leads = anonymize_leads(data)
    if not out.parent.is_dir():
        return fail(f"--out {out}: folder {out.parent} does not exist")
    write_atomically(out, json.dumps(leads, ensure_ascii=False, indent=2) + "\n")
    print(f"anonymized {len(leads):,} leads into {out}", file=sys.stderr)
    return 0


def contract_check(args: argparse.Namespace) -> int:
    """Exit 0 when nothing breaking, 1 when something is, 2 when it could not check."""
    if args.from_file is not None:
        source = str(args.from_file)
        try:
            data = _json_of(args.from_file)
        except Unreadable as error:
            return fail(f"cannot check: {error.problem(args.from_file)}")
    else:
        fetched = _fetch_answer(args)
        if isinstance(fetched, str):
            return fail(f"cannot check: {fetched}")
        source, data = fetched
    root = fixtures_root(args.fixtures)
    try:
        fixtures = load_fixtures(root)
    except FixtureError as error:
        return fail(f"cannot check: the fixtures in {root} are invalid ({error.problems[0]})")
    shape = fixture_shape(fixture.leads for fixture in fixtures.files.values())
    findings = check_answer(data, shape=shape, expect=args.expect)
    breaking = any(finding.breaking for finding in findings)
    if args.format == "json":
        report = {
            "source": source,
            "breaking": sum(finding.breaking for finding in findings),
            "compatible": sum(not finding.breaking for finding in findings),
            "findings": [finding.as_dict() for finding in findings],
        }
        print(json.dumps(report, indent=2))
    else:
        print(table(findings, source), end="")
    return 1 if breaking else 0


def _json_of(path: Path) -> Any:
    """A file named on the command line, read within the bounds of fixtures.reading."""
    data = read_bounded(path)
    try:
        return parse_json(data)
    except Unreadable as error:
        raise Unreadable(f"not a JSON file: {error.message}", error.line, error.column) from None


def _fetch_answer(args: argparse.Namespace) -> tuple[str, Any] | str:
    """(source, parsed answer), or why it could not be had. Never shows the key."""
    import httpx  # noqa: PLC0415 - only this command talks to the network

    key = os.environ.get(args.key_env, "").strip()
    if not key:
        return f"no API key: set the {args.key_env} environment variable"
    url = args.upstream_url.rstrip("/") + "/user/leads"
    source = url + (f"?{args.query}" if args.query else "")
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    try:
        response = httpx.get(url, params=args.query or None, headers=headers, timeout=args.timeout)
    except httpx.HTTPError as error:
        return f"{url}: {type(error).__name__}: the API could not be reached"
    if response.status_code in {401, 403}:
        return f"{url} answered {response.status_code}: the key in {args.key_env} was refused"
    if response.status_code != 200:
        return f"{url} answered {response.status_code}"
    try:
        return source, response.json()
    except ValueError:
        return f"{url} answered 200 with a body that is not JSON"


def _progress_bar(total: int) -> Callable[[int], None]:
    def show(done: int) -> None:
        filled = 30 * done // total
        end = "\n" if done == total else ""
        bar = "#" * filled + " " * (30 - filled)
        print(f"\r[{bar}] {done:,}/{total:,}", end=end, file=sys.stderr)

    return show


def pull(args: argparse.Namespace) -> int:
    """`fixtures pull`: the key's whole listing into OUT/leads/default.json (commands.pull)."""
    import httpx  # noqa: PLC0415 - only the network commands need it

    from .pull import Progress, Pull, PullError  # noqa: PLC0415

    key = os.environ.get(args.key_env, "").strip()
    if not key:
        return fail(f"no API key: set the {args.key_env} environment variable")
    if args.upstream_max_rps is not None and args.upstream_max_rps <= 0:
        return fail("--upstream-max-rps must be more than 0")
    live = args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty())

    def report(event: str, progress: Progress) -> None:
        of_pages = f"/{progress.last_page:,}" if progress.last_page else ""
        of_leads = f"/{progress.total:,}" if progress.total is not None else ""
        eta = progress.eta(time.monotonic())
        line = f"pages {progress.pages:,}{of_pages}, leads {progress.leads:,}{of_leads}" + (
            f", ETA {eta:.0f} s" if eta is not None and event == "page" else ""
        )
        if event not in {"page", "done"}:
            line = f"{line}: {event}"
        if live:
            print(f"\r{line:<72}", end="\n" if event == "done" else "", file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    base = args.upstream_url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=args.timeout) as client:
        walk = Pull(
            client,
            out=args.out,
            key=key,
            anonymize=args.anonymize,
            max_rps=args.upstream_max_rps,
            report=report,
        )
        try:
            path = walk.run(resume=args.resume)
        except PullError as error:
            return fail(f"pull: {error}", 1)
        except KeyboardInterrupt:
            if live:
                print(file=sys.stderr)
            print(
                f"{PROG}: interrupted after {walk.progress.pages:,} pages; "
                f"run again with --resume to go on",
                file=sys.stderr,
            )
            return 130
    print(f"wrote {walk.progress.leads:,} leads to {path}")
    return 0
