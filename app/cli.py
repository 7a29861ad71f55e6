"""The command line: `leads-proxy serve`, `leads-proxy fixtures validate|generate`."""

from __future__ import annotations

import argparse
import copy
import logging.config
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .commands.fixtures import (
    MAX_GENERATE,
    PROG,
    PROGRESS_FROM,
    anonymize,
    contract_check,
    fail,
    generate,
    pull,
    validate,
)
from .fixtures.files import FixtureError, load_fixtures
from .fixtures.record import out_of
from .mock.state import state_problem
from .settings.declarations import DEFAULT_UPSTREAM, Settings
from .settings.field import GROUPS
from .settings.text import SettingsError, choices, env_name, extra, flag_name, load_settings
from .settings.values import LogFormat, LogLevel, Mode


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def add_settings(serve: argparse.ArgumentParser) -> None:
    """One flag per setting, derived from its declaration on `Settings`."""
    groups: dict[str, Any] = {
        name: serve.add_argument_group(title) if title else serve for name, title in GROUPS.items()
    }
    for field, info in Settings.model_fields.items():
        declared = extra(field)
        default = info.get_default(call_default_factory=True)
        shown = "unset" if default is None else getattr(default, "value", default)
        values = choices(field)
        options: dict[str, Any] = {}
        if declared.get("bare"):
            options = {"nargs": "?", "const": declared["bare"]}
        groups[declared.get("group") or "serve"].add_argument(
            flag_name(field),
            dest=field,
            default=None,
            metavar="|".join(values) if values else declared.get("metavar") or field.upper(),
            help=f"{info.description} (env {env_name(field)}; default: {shown})",
            **options,
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
    add_settings(serve)

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
    puller = fixture_commands.add_parser(
        "pull",
        help="pull a key's whole listing, page by page, into DIR/leads/default.json",
        description="Walk the real listing page by page (per_page=100), waiting out 429s, "
        "and write every lead as DIR/leads/default.json. The key comes from the environment. "
        "An interrupted pull goes on with --resume.",
    )
    puller.add_argument("--out", type=Path, required=True, metavar="DIR", help="fixtures folder")
    _real_api_options(puller)
    puller.add_argument("--resume", action="store_true", help="go on with an interrupted pull")
    puller.add_argument(
        "--anonymize", action="store_true", help="replace personal data with consistent fakes"
    )
    puller.add_argument(
        "--upstream-max-rps", type=float, metavar="N", help="at most N requests a second"
    )
    puller.add_argument("--timeout", type=float, default=30.0, help="seconds (default: 30)")
    puller.add_argument(
        "--progress",
        choices=["auto", "on", "off"],
        default="auto",
        help="a progress line on stderr (auto: on a terminal; plain lines otherwise)",
    )
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
    _real_api_options(check)
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


def _real_api_options(command: argparse.ArgumentParser) -> None:
    """--key-env and --upstream-url, for the commands that call the real API."""
    command.add_argument(
        "--key-env",
        default="SONDOS_API_KEY",
        metavar="NAME",
        help="env var holding the API key (default: SONDOS_API_KEY); never a flag, so that "
        "the key stays out of shell history",
    )
    command.add_argument(
        "--upstream-url",
        default=DEFAULT_UPSTREAM,
        metavar="URL",
        help=f"the real API's base URL (default: {DEFAULT_UPSTREAM})",
    )


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
    if args.fixtures_command == "pull":
        return pull(args)
    return generate(args)


def serve(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(
            **{name: getattr(args, name) for name in Settings.model_fields if name in args}
        )
    except SettingsError as error:
        return fail(str(error))
    if settings.mode is Mode.RECORD:
        try:
            (settings.fixtures / "leads").mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return fail(f"--fixtures {settings.fixtures}: cannot record there ({error.strerror})")
        if (outside := out_of(settings.fixtures)) is not None:
            return fail(f"--fixtures {settings.fixtures}: {outside}")
    try:
        fixtures = load_fixtures(settings.fixtures) if settings.needs_fixtures else None
    except FixtureError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        return fail(f"{count} problem{'s' * (count > 1)} in the fixtures; nothing served")
    if settings.mode is Mode.MOCK and (unusable := state_problem(settings.state_file)):
        return fail(f"--state-file {unusable}")

    # Imported here so that the fixtures commands start without the web stack.
    from .edge.serving import run, unavailable  # noqa: PLC0415

    if (missing := unavailable(settings)) is not None:
        return fail(missing)

    # Nothing here logs thread or process names: spare every record the lookups.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    log_config = _log_config(settings.log_level, json_lines=settings.log_format is LogFormat.JSON)
    logging.config.dictConfig(log_config)
    run(settings, fixtures, log_config)
    return 0


def _log_config(level: LogLevel, *, json_lines: bool = False) -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["leads_proxy"] = {"handlers": ["default"], "level": level.value.upper()}
    if json_lines:
        for formatter in ("default", "access"):
            config["formatters"][formatter] = {"()": f"{__package__}.observe.access.JsonFormatter"}
    return config


if __name__ == "__main__":
    sys.exit(main())
