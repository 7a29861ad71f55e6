"""The command line: `leads-proxy serve`, `leads-proxy fixtures validate|generate`."""

from __future__ import annotations

import argparse
import copy
import gc
import json
import logging.config
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from app.anonymize import anonymize_leads
from app.config import (
    DEFAULT_UPSTREAM,
    Fallback,
    LogLevel,
    Mode,
    Settings,
    SettingsError,
    Switch,
    bundled_fixtures_dir,
    env_name,
    load_settings,
)
from app.contract import check_answer, fixture_shape, table
from app.fixtures import FixtureError, check_fixtures, load_fixtures, write_atomically
from app.generate import generate_leads

PROG = "leads-proxy"
MAX_GENERATE = 1_000_000
PROGRESS_FROM = 10_000
PRETTY_UP_TO = 1_000
WORKER_APP = "app.main:worker_app"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def _choices(enum_type: type[Mode | Switch | LogLevel | Fallback]) -> str:
    return "|".join(member.value for member in enum_type)


def _setting(parser: Any, field: str, help_text: str, **kwargs: Any) -> None:
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    shown = "unset" if default is None else getattr(default, "value", default)
    parser.add_argument(
        "--" + field.replace("_", "-"),
        dest=field,
        default=None,
        help=f"{help_text} (env {env_name(field)}; default: {shown})",
        **kwargs,
    )


def _scale_settings(serve: argparse.ArgumentParser) -> None:
    scale = serve.add_argument_group(
        "scale-out (several workers; one cache and upstream budget shared through Redis)"
    )
    _setting(scale, "workers", "uvicorn worker processes", metavar="N")
    _setting(
        scale,
        "cache_url",
        "Redis (or Valkey) holding the cache, fill locks, 429 cooldowns and the "
        "--upstream-max-rps budget for every process, e.g. redis://127.0.0.1:6379/0",
        metavar="URL",
    )
    _setting(
        scale,
        "key_secret",
        "HMAC secret for cache keys, the same on every process; required with --cache-url "
        "(prefer the env var)",
        metavar="SECRET",
    )
    _setting(
        scale,
        "cache_timeout",
        "seconds a Redis call may take before Redis counts as down",
        metavar="SECONDS",
    )
    _setting(
        scale,
        "local_ttl",
        "seconds a hit is answered from process memory before Redis is asked for a newer copy",
        metavar="SECONDS",
    )


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description="Local mock server and caching proxy for the Sondos AI leads API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="start the server",
        description="Start the server. Every flag has an env var twin; flags win.",
    )
    _setting(serve, "mode", "how to answer: mock replays fixtures offline", metavar=_choices(Mode))
    _setting(serve, "host", "interface to listen on", metavar="HOST")
    _setting(serve, "port", "TCP port to listen on (0 to 65535)", metavar="PORT")
    _setting(serve, "fixtures", "fixtures directory, holding leads/<name>.json", metavar="DIR")
    _setting(
        serve,
        "mock_auth",
        "answer 401 without an 'Authorization: Bearer ...' header, like the real API",
        metavar=_choices(Switch),
    )
    _setting(serve, "log_level", "log verbosity", metavar=_choices(LogLevel))
    _setting(serve, "access_log", "log one line per request", metavar=_choices(Switch))

    proxy = serve.add_argument_group("proxy mode")
    _setting(proxy, "upstream_url", "the real API's base URL", metavar="URL")
    _setting(proxy, "upstream_timeout", "seconds to wait for the upstream", metavar="SECONDS")
    _setting(
        proxy,
        "upstream_max_rps",
        "at most this many upstream requests per second, for the whole process",
        metavar="RPS",
    )
    _setting(proxy, "ttl", "seconds an answer is fresh", metavar="SECONDS")
    _setting(
        proxy,
        "stale_while_revalidate",
        "seconds past the TTL an answer is still served while refreshed in the background",
        metavar="SECONDS",
    )
    _setting(
        proxy,
        "stale_if_error",
        "seconds past the TTL an answer may stand in for a failed or rate-limited upstream",
        metavar="SECONDS",
    )
    _setting(proxy, "max_entries", "most answers cached", metavar="N")
    _setting(proxy, "max_bytes", "most bytes of answers cached", metavar="BYTES")
    _setting(proxy, "max_entry_bytes", "larger answers are passed on, not cached", metavar="BYTES")
    _setting(
        proxy,
        "fallback",
        "when the upstream fails and nothing is cached: none (502/504) or fixtures",
        metavar=_choices(Fallback),
    )
    record = serve.add_argument_group("record mode (proxy mode, and each 200 written as a fixture)")
    _setting(
        record,
        "anonymize",
        "replace phone numbers, names and emails with consistent fakes before writing",
        metavar=_choices(Switch),
        nargs="?",
        const="on",
    )
    _setting(
        record,
        "record_as_default",
        "also write the answer to the unfiltered listing as leads/default.json",
        metavar=_choices(Switch),
        nargs="?",
        const="on",
    )
    _setting(
        proxy,
        "admin_token",
        "bearer token for DELETE /_proxy/cache; purging is off without it "
        "(prefer the env var: a flag shows in the process list)",
        metavar="TOKEN",
    )
    _scale_settings(serve)

    fixtures = commands.add_parser(
        "fixtures", help="check or make fixture files", description="Check or make fixtures."
    )
    fixture_commands = fixtures.add_subparsers(dest="fixtures_command", required=True)
    validate = fixture_commands.add_parser(
        "validate",
        help="validate a fixtures directory (exit 0 valid, 1 not)",
        description="Report every problem in a fixtures directory, as serve would.",
    )
    validate.add_argument(
        "dir",
        nargs="?",
        type=Path,
        help=f"fixtures directory (default: {env_name('fixtures')} or the bundled fixtures)",
    )
    generate = fixture_commands.add_parser(
        "generate",
        help="write realistic, valid, reproducible leads",
        description="Write COUNT generated leads as a fixture file (a bare JSON array).",
    )
    generate.add_argument(
        "--count", type=int, required=True, help=f"how many leads (1 to {MAX_GENERATE:,})"
    )
    generate.add_argument("--seed", type=int, default=0, help="same seed, same leads (default: 0)")
    generate.add_argument(
        "--out", type=Path, required=True, help="file to write, e.g. fixtures/leads/big.json"
    )
    generate.add_argument(
        "--progress",
        choices=["auto", "on", "off"],
        default="auto",
        help=f"progress bar on stderr (auto: from {PROGRESS_FROM:,} leads on a terminal)",
    )
    anonymize = fixture_commands.add_parser(
        "anonymize",
        help="replace personal data in a fixture file with consistent fakes",
        description="Replace phone numbers, names and emails in FILE with consistent, valid "
        "fakes; ids, statuses, timestamps and campaigns stay. Rewrites FILE unless --out.",
    )
    anonymize.add_argument("file", type=Path, help="a fixture file (a bare JSON array of leads)")
    anonymize.add_argument("--out", type=Path, help="write here instead of over FILE")
    contract = commands.add_parser(
        "contract", help="check the real API against the contract", description="Contract checks."
    )
    contract_commands = contract.add_subparsers(dest="contract_command", required=True)
    check = contract_commands.add_parser(
        "check",
        help="compare a real answer with the documented schema and the fixtures",
        description="Call the real leads endpoint (or read a recorded answer) and report how it "
        "drifts from the documented schema and from the fixtures' shape. Exit 0: nothing "
        "breaking; 1: something breaking; 2: could not check.",
    )
    check.add_argument(
        "--key-env",
        default="SONDOS_API_KEY",
        metavar="NAME",
        help="env var holding the API key (default: SONDOS_API_KEY); never a flag, so that "
        "the key stays out of shell history",
    )
    check.add_argument(
        "--upstream-url",
        default=DEFAULT_UPSTREAM,
        metavar="URL",
        help=f"the real API's base URL (default: {DEFAULT_UPSTREAM})",
    )
    check.add_argument("--query", default="", help="query string to send, e.g. status=completed")
    check.add_argument("--timeout", type=float, default=30.0, help="seconds (default: 30)")
    check.add_argument(
        "--from-file", type=Path, metavar="FILE", help="check a saved answer instead, offline"
    )
    check.add_argument(
        "--fixtures",
        type=Path,
        metavar="DIR",
        help=f"fixtures whose shape to compare with (default: {env_name('fixtures')} or bundled)",
    )
    check.add_argument(
        "--expect",
        choices=["array", "paginated"],
        default="array",
        help="the envelope expected: the documented bare array, or a paginator",
    )
    check.add_argument("--format", choices=["table", "json"], default="table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "contract":
        return contract_check(args)
    if args.fixtures_command == "validate":
        return validate(args)
    if args.fixtures_command == "anonymize":
        return anonymize(args)
    return generate(args)


def _fail(message: str, status: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            **{name: getattr(args, name) for name in Settings.model_fields if name in args}
        )
    except SettingsError as error:
        return _fail(str(error))
    if settings.mode is Mode.RECORD:
        try:
            (settings.fixtures / "leads").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return _fail(f"--fixtures {settings.fixtures}: cannot record there ({error.strerror})")
    try:
        fixtures = load_fixtures(settings.fixtures) if settings.needs_fixtures else None
    except FixtureError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        return _fail(f"{count} problem{'s' * (count > 1)} in the fixtures; nothing served")

    # Imported here so that the fixtures commands start without the web stack.
    import uvicorn  # noqa: PLC0415

    from app.main import WORKER_ENV, create_asgi, worker_env  # noqa: PLC0415

    # Nothing here logs thread or process names: spare every record the lookups.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    log_config = _log_config(settings.log_level)
    logging.config.dictConfig(log_config)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.value,
        "log_config": log_config,
        # Proxy and record modes log their own access lines, with the cache result.
        "access_log": settings.access_log is Switch.ON and settings.mode is Mode.MOCK,
        "timeout_graceful_shutdown": 5,
    }
    if settings.workers > 1:
        # Each worker builds its own app from the settings handed down; they
        # share one folder of counters, so that any of them can tell the totals.
        with tempfile.TemporaryDirectory(prefix="leads-proxy-stats-") as stats_dir:
            os.environ[WORKER_ENV] = worker_env(settings, Path(stats_dir))
            uvicorn.run(WORKER_APP, factory=True, workers=settings.workers, **options)
        return 0
    app = create_asgi(settings, fixtures=fixtures)
    # The fixtures live as long as the process: keep the collector from
    # rescanning their many small objects on every full collection.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, **options)
    return 0


def _log_config(level: LogLevel) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["leads_proxy"] = {"handlers": ["default"], "level": level.value.upper()}
    # Proxy mode's access lines: one per request, so kept cheap and plain.
    config["formatters"]["plain"] = {"format": "%(message)s"}
    config["handlers"]["access_plain"] = {
        "formatter": "plain",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["leads_proxy.access"] = {
        "handlers": ["access_plain"],
        "level": "INFO",
        "propagate": False,
    }
    return config


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
        return _fail(f"--count must be from 1 to {MAX_GENERATE:,}, not {args.count}")
    if args.seed < 0:
        return _fail(f"--seed must be 0 or more, not {args.seed}")
    out: Path = args.out
    if not out.parent.is_dir():
        return _fail(f"--out {out}: folder {out.parent} does not exist")
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
        data = json.loads(source.read_text(encoding="utf-8"))
    except OSError as error:
        return _fail(f"{source}: cannot read ({error.strerror})")
    except (ValueError, UnicodeDecodeError) as error:
        return _fail(f"{source}: not a JSON file ({error})")
    if not isinstance(data, list) or not all(isinstance(lead, dict) for lead in data):
        return _fail(f"{source}: expected a JSON array of leads")
    leads = anonymize_leads(data)
    if not out.parent.is_dir():
        return _fail(f"--out {out}: folder {out.parent} does not exist")
    write_atomically(out, json.dumps(leads, ensure_ascii=False, indent=2) + "\n")
    print(f"anonymized {len(leads):,} leads into {out}", file=sys.stderr)
    return 0


def contract_check(args: argparse.Namespace) -> int:
    """Exit 0 when nothing breaking, 1 when something is, 2 when it could not check."""
    if args.from_file is not None:
        source = str(args.from_file)
        try:
            data = json.loads(args.from_file.read_text(encoding="utf-8"))
        except OSError as error:
            return _fail(f"cannot check: {source}: {error.strerror}")
        except (ValueError, UnicodeDecodeError) as error:
            return _fail(f"cannot check: {source} is not JSON ({error})")
    else:
        fetched = _fetch_answer(args)
        if isinstance(fetched, str):
            return _fail(f"cannot check: {fetched}")
        source, data = fetched
    root = fixtures_root(args.fixtures)
    try:
        fixtures = load_fixtures(root)
    except FixtureError as error:
        return _fail(f"cannot check: the fixtures in {root} are invalid ({error.problems[0]})")
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


if __name__ == "__main__":
    sys.exit(main())
