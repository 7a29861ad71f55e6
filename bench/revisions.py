"""Hit paths of today's code against another revision's, in one interleaved run.

    uv run python -m bench.revisions --against 2ce3022 [--seconds 3] [--rounds 4]
        [--mode proxy|mock] [--also "--journal-size 0"]... [--connections 16,64]

Checks REV out into `.cache/bench-rev/<rev>` (a git worktree with its own
locked venv, made once), starts proxy mode (a fresh hit) and mock mode (the
default listing) from both on 20 generated leads, and prints each mode's
requests/s and CPU per request on each of the listing's two paths and at each
connection count, today's over REV's. `--also FLAGS` adds a server of today's
code started with those flags, for each one given.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.common import (
    AUTH,
    ROOT,
    Run,
    clean_env,
    free_port,
    generate_fixture,
    interleaved,
    load_from_cpu_1,
    print_table,
    raw_command,
    serving,
)

MODES = ("proxy", "mock")
PATHS = ("/api/user/leads", "/leads")


def checkout(revision: str) -> Path:
    """A worktree of `revision` with its locked dependencies installed (made once)."""
    folder = ROOT / ".cache" / "bench-rev" / revision
    if not (folder / ".venv" / "bin" / "leads-proxy").exists():
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(folder), revision],
                       cwd=ROOT, check=True)  # fmt: skip
        subprocess.run(["uv", "sync", "--locked", "--quiet"], cwd=folder, check=True)
    return folder


def measure(
    then: Path,
    work: Path,
    seconds: int,
    rounds: int,
    *,
    modes: Sequence[str] = MODES,
    also: Sequence[str] = (),
    counts: Sequence[int] = (16,),
) -> dict[str, Run]:
    fixtures = generate_fixture(20, work / "fx")
    body = fixtures / "leads" / "default.json"
    targets: list[tuple[str, str, int]] = []
    with ExitStack() as stack:
        up = free_port()
        stack.enter_context(
            serving(raw_command(up, access_log=False), up, clean_env(BENCH_BODY=str(body)))
        )
        runs = [("then", then, ""), ("now", ROOT, ""), *((f"now {f}", ROOT, f) for f in also)]
        for label, root, flags in runs:
            for mode in modes:
                port = free_port()
                command = [str(root / ".venv" / "bin" / "leads-proxy"), "serve", "--mode", mode,
                           "--port", str(port), "--fixtures", str(fixtures), "--access-log",
                           "off", "--upstream-url", f"http://127.0.0.1:{up}/api", "--ttl",
                           "3600", *shlex.split(flags)]  # fmt: skip
                pid = stack.enter_context(serving(command, port, clean_env()))
                for path in PATHS:
                    url = f"http://127.0.0.1:{port}{path}"
                    httpx.get(url, headers=dict([AUTH.split(": ")])).raise_for_status()
                    for count in counts:
                        targets.append((f"{mode} {path} c{count}, {label}", url, pid))
        connections = {name: int(name.split(", ")[0].rsplit(" c", 1)[1]) for name, _, _ in targets}
        return interleaved(targets, rounds, seconds, connections=connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, metavar="REV")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--mode", choices=MODES, action="append", help="default: both")
    parser.add_argument("--also", action="append", default=[], metavar="FLAGS")
    parser.add_argument("--connections", default="16", help="wrk -c values (default: 16)")
    args = parser.parse_args()
    modes = args.mode or MODES
    counts = [int(count) for count in args.connections.split(",")]
    then = checkout(args.against)
    load_from_cpu_1()
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(then, Path(tmp), args.seconds, args.rounds, modes=modes,
                          also=args.also, counts=counts)  # fmt: skip
    title = f"{args.against} (then) vs now, {args.rounds} rounds x {args.seconds}s, wrk -t1"
    print_table(title, results, reference=next(iter(results)))
    print()
    for name in results:
        where, label = name.split(", ", 1)
        if label == "then":
            continue
        old, new = results[f"{where}, then"], results[name]
        print(f"{where}, {label}: {new.rps / old.rps:.2f}x the req/s of then, "
              f"{new.cpu_us / old.cpu_us:.2f}x its CPU per request")  # fmt: skip


if __name__ == "__main__":
    main()
