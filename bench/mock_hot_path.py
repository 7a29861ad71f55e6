"""Mock mode's hot path against a raw ASGI app serving the same bytes, in one run.

    uv run python -m bench.mock_hot_path [--seconds 5] [--rounds 2]

Both servers run under uvicorn with its defaults (access log on, output to
/dev/null), pinned to CPU 0; wrk runs pinned to CPU 1 and talks to 127.0.0.1
only. For each fixture size it prints requests/s, p50/p99 latency and server
CPU time per request (from /proc), and the ratios of leads-proxy to the raw
app. Absolute numbers on a shared machine are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import httpx

from bench.common import (
    AUTH,
    BIN,
    Run,
    clean_env,
    free_port,
    generate_fixture,
    interleaved,
    ours_flags,
    print_table,
    raw_command,
    serving,
)

SIZES = (20, 10_000)


def measure(size: int, work: Path, seconds: int, rounds: int, *, logs: bool) -> dict[str, Run]:
    fixtures = generate_fixture(size, work / f"fx-{size}")
    ours_port, raw_port = free_port(), free_port()
    ours_cmd = [str(BIN / "leads-proxy"), "serve", "--port", str(ours_port)]
    ours_cmd += ["--fixtures", str(fixtures), *ours_flags(access_log=logs)]
    ours_url = f"http://127.0.0.1:{ours_port}/api/user/leads"
    body = work / f"body-{size}.json"
    with serving(ours_cmd, ours_port, clean_env()) as ours:
        # The reference serves exactly the bytes leads-proxy answers.
        body.write_bytes(httpx.get(ours_url, headers=dict([AUTH.split(": ")])).content)
        raw_cmd = raw_command(raw_port, access_log=logs)
        with serving(raw_cmd, raw_port, clean_env(BENCH_BODY=str(body))) as raw:
            targets = [
                ("raw", f"http://127.0.0.1:{raw_port}/", raw),
                ("leads-proxy", ours_url, ours),
                ("leads-proxy filtered", ours_url + "?status=completed", ours),
            ]
            return interleaved(targets, rounds, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), metavar="LEADS")
    parser.add_argument(
        "--quiet", action="store_true", help="both servers without access logs (default: with)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results = measure(size, Path(tmp), args.seconds, args.rounds, logs=not args.quiet)
            logs = "no access logs" if args.quiet else "access logs on"
            title = f"{size:,} leads ({args.rounds} rounds x {args.seconds}s, wrk -c16, {logs})"
            print_table(title, results, reference="raw")


if __name__ == "__main__":
    main()
