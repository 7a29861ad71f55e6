"""What gzip costs a hit, against an identity hit of the same answer, in one run.

    uv run python -m bench.compression [--seconds 3] [--rounds 4]

Proxy mode, a cache hit, 20 leads and 10,000 leads, each asked with and
without `Accept-Encoding: gzip` (servers on CPU 0, wrk on CPU 1, 127.0.0.1
only). The gzip form is made once, when the entry is filled; a hit only picks
it. Rounds interleaved, the order reversed every other round.
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
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
    load_from_cpu_1,
    print_table,
    raw_command,
    serving,
)

GZIP = ("Accept-Encoding: gzip",)
SIZES = (20, 10_000)


def measure(work: Path, seconds: int, rounds: int) -> dict[str, Run]:
    targets: list[tuple[str, str, int]] = []
    headers: dict[str, tuple[str, ...]] = {}
    auth = dict([AUTH.split(": ")])
    with ExitStack() as stack:
        for size in SIZES:
            body = generate_fixture(size, work / str(size)) / "leads" / "default.json"
            upstream, port = free_port(), free_port()
            stack.enter_context(
                serving(raw_command(upstream, access_log=False), upstream,
                        clean_env(BENCH_BODY=str(body)))
            )  # fmt: skip
            command = [str(BIN / "leads-proxy"), "serve", "--mode", "proxy", "--port", str(port),
                       "--upstream-url", f"http://127.0.0.1:{upstream}/api", "--ttl", "3600",
                       "--access-log", "off"]  # fmt: skip
            pid = stack.enter_context(serving(command, port, clean_env()))
            url = f"http://127.0.0.1:{port}/api/user/leads"
            httpx.get(url, headers=auth).raise_for_status()  # the fill
            gzipped = httpx.get(url, headers={**auth, "Accept-Encoding": "gzip"})
            if gzipped.headers.get("content-encoding") != "gzip":
                raise SystemExit(f"{size} leads: no gzip form")
            targets += [(f"{size} leads, identity", url, pid), (f"{size} leads, gzip", url, pid)]
            headers[f"{size} leads, gzip"] = GZIP
        return interleaved(targets, rounds, seconds, headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    load_from_cpu_1()
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(Path(tmp), args.seconds, args.rounds)
    title = f"proxy hits, {args.rounds} interleaved rounds x {args.seconds}s, wrk -c16"
    print_table(title, results, reference="20 leads, identity")
    print()
    for size in SIZES:
        plain, packed = results[f"{size} leads, identity"], results[f"{size} leads, gzip"]
        print(
            f"{size:>6} leads: gzip hit {packed.cpu_us / plain.cpu_us:.2f}x the CPU of an "
            f"identity hit, {packed.rps / plain.rps:.2f}x its req/s"
        )


if __name__ == "__main__":
    main()
