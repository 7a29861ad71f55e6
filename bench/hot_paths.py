"""The hits against the raw ASGI app, under uvicorn and granian, in one interleaved run.

    uv run python -m bench.hot_paths [--seconds 3] [--rounds 3] [--connections 16,64]

What it measures (20 leads; every server on CPU 0, wrk -t1 on CPU 1, 127.0.0.1):

- a mock hit and a proxy hit (a fresh cache hit), each on `/leads` and on
  `/api/user/leads`, under each server, without access lines and (on `/leads`)
  with them;
- the raw app (`bench/raw_app.py`) under each server sending the very bytes of
  each answer: its body and every header (less `date` and `server`), read off
  the running servers, so that both sides put the same answer on the wire.

Each round runs every target once at each connection count, in an order
reversed every other round, because this machine drifts within a run; the
tables show the mean of the rounds, and the ratios the project holds itself
to under them.
"""

from __future__ import annotations

import argparse
import json
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

SERVERS = ("uvicorn", "granian")
MODES = ("mock", "proxy")
PATHS = ("/leads", "/api/user/leads")
NOT_COPIED = frozenset({"date", "server"})  # each server writes its own


def ours(
    mode: str, server: str, port: int, fixtures: Path, upstream: int, *, logs: bool
) -> list[str]:
    command = [str(BIN / "leads-proxy"), "serve", "--mode", mode, "--port", str(port),
               "--server", server, "--fixtures", str(fixtures),
               "--access-log", "on" if logs else "off"]  # fmt: skip
    if mode == "proxy":
        command += ["--upstream-url", f"http://127.0.0.1:{upstream}/api", "--ttl", "3600"]
    return command


def label(mode: str, server: str, path: str = "/leads", *, logs: bool = False) -> str:
    return f"{mode} {path}, {server}" + (", access lines" if logs else "")


def raw_label(mode: str, server: str) -> str:
    return f"raw, {mode}'s bytes, {server}"


def measure(work: Path, seconds: int, rounds: int, counts: list[int]) -> dict[int, dict[str, Run]]:
    fixtures = generate_fixture(20, work / "fx")
    key = dict([AUTH.split(": ")]) | {"Accept-Encoding": "identity"}  # as wrk asks
    targets: list[tuple[str, str, int]] = []
    with ExitStack() as stack:

        def start(command: list[str], port: int, env: dict[str, str]) -> int:
            return stack.enter_context(serving(command, port, env))

        upstream = free_port()
        body = str(fixtures / "leads" / "default.json")
        start(raw_command(upstream, access_log=False), upstream, clean_env(BENCH_BODY=body))
        answers: dict[str, httpx.Response] = {}
        for server in SERVERS:
            for mode in MODES:
                for logs in (False, True):
                    port = free_port()
                    command = ours(mode, server, port, fixtures, upstream, logs=logs)
                    pid = start(command, port, clean_env())
                    for path in PATHS if not logs else PATHS[:1]:
                        url = f"http://127.0.0.1:{port}{path}"
                        got = httpx.get(url, headers=key)  # the fill, or the first answer
                        got.raise_for_status()
                        answers[mode] = httpx.get(url, headers=key)  # a hit
                        targets.append((label(mode, server, path, logs=logs), url, pid))
        for server in SERVERS:
            for mode in MODES:
                port, answer = free_port(), answers[mode]
                (work / f"{mode}.body").write_bytes(answer.content)
                headers = [(n, v) for n, v in answer.headers.multi_items() if n not in NOT_COPIED]
                (work / f"{mode}.headers").write_text(json.dumps(headers))
                env = clean_env(BENCH_BODY=str(work / f"{mode}.body"),
                                BENCH_HEADERS_FILE=str(work / f"{mode}.headers"))  # fmt: skip
                pid = start(raw_command(port, access_log=False, server=server), port, env)
                targets.append((raw_label(mode, server), f"http://127.0.0.1:{port}/", pid))
        every = [(f"{name} c{count}", url, pid) for count in counts for name, url, pid in targets]
        connections = {name: int(name.rsplit(" c", 1)[1]) for name, _, _ in every}
        results = interleaved(every, rounds, seconds, connections=connections)
    return {
        count: {name: results[f"{name} c{count}"] for name, _, _ in targets} for count in counts
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="16,64", help="wrk -c values (default: 16,64)")
    args = parser.parse_args()
    counts = [int(count) for count in args.connections.split(",")]
    load_from_cpu_1()
    with tempfile.TemporaryDirectory() as tmp:
        every = measure(Path(tmp), args.seconds, args.rounds, counts)
    for count, results in every.items():
        title = f"20 leads, {args.rounds} interleaved rounds x {args.seconds}s, wrk -t1 -c{count}"
        print_table(title, results, reference=raw_label("mock", "uvicorn"))
        print()

        def ratio(one: str, other: str, results: dict[str, Run] = results) -> str:
            rps = results[one].rps / results[other].rps
            return f"{rps:.2f}x req/s, {results[one].cpu_us / results[other].cpu_us:.2f}x CPU"

        for mode in MODES:
            for path in PATHS:
                hit = label(mode, "uvicorn", path)
                print(f"{hit:<38} vs raw uvicorn, same bytes: "
                      f"{ratio(hit, raw_label(mode, 'uvicorn'))}")  # fmt: skip
        for mode in MODES:
            for path in PATHS:
                hit = label(mode, "granian", path)
                print(f"{hit:<38} vs the same under uvicorn: "
                      f"{ratio(hit, label(mode, 'uvicorn', path))}")  # fmt: skip
        for mode in MODES:
            for server in SERVERS:
                logged = label(mode, server, logs=True)
                print(f"{logged:<38} vs without: {ratio(logged, label(mode, server))}")
        for mode in MODES:
            granian = raw_label(mode, "granian")
            print(f"{granian:<38} vs raw uvicorn: {ratio(granian, raw_label(mode, 'uvicorn'))}")
        print()


if __name__ == "__main__":
    main()
