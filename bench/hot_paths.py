"""The hot paths against the raw ASGI app, every server measured in one interleaved run.

    uv run python -m bench.hot_paths [--seconds 3] [--rounds 4]

Answers it measures (20 leads; servers on CPU 0, wrk on CPU 1, 127.0.0.1 only):

- proxy mode, a cache hit, no access lines, against the raw app sending the
  same bytes, once with the hit's headers (`raw, hit headers`: the same
  response on the wire) and once with its three (`raw`);
- proxy mode and mock mode with access lines against themselves without;
- mock mode, a filtered listing answered before (`?status=completed`),
  against the raw app sending the same filtered bytes.

Each round runs every target once, in an order reversed every other round,
because this machine drifts within a run; the table shows the mean of the
rounds, and the ratios the issue asks for under it.
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

FILTER = "?status=completed"
RAW_LABELS = {"raw": "raw", "raw-hit": "raw, hit headers", "raw-filtered": "raw, filtered bytes"}


def ours(mode: str, port: int, fixtures: Path, upstream: int, *, logs: bool) -> list[str]:
    command = [str(BIN / "leads-proxy"), "serve", "--mode", mode, "--port", str(port)]
    command += ["--fixtures", str(fixtures), "--access-log", "on" if logs else "off"]
    if mode == "proxy":
        command += ["--upstream-url", f"http://127.0.0.1:{upstream}/api", "--ttl", "3600"]
    return command


def measure(work: Path, seconds: int, rounds: int) -> dict[str, Run]:
    fixtures = generate_fixture(20, work / "fx")
    body = fixtures / "leads" / "default.json"
    filtered = work / "filtered.json"
    ports = {name: free_port() for name in ("raw", "raw-hit", "raw-filtered", "up")}
    ports |= {name: free_port() for name in ("proxy", "proxy-logs", "mock", "mock-logs")}
    headers = dict([AUTH.split(": ")])
    targets: list[tuple[str, str, int]] = []
    with ExitStack() as stack:

        def start(name: str, command: list[str], env: dict[str, str]) -> int:
            return stack.enter_context(serving(command, ports[name], env))

        def url(name: str, path: str = "/api/user/leads") -> str:
            return f"http://127.0.0.1:{ports[name]}{path}"

        start("up", raw_command(ports["up"], access_log=False), clean_env(BENCH_BODY=str(body)))
        for mode in ("proxy", "mock"):
            for logs in (False, True):
                name = f"{mode}-logs" if logs else mode
                command = ours(mode, ports[name], fixtures, ports["up"], logs=logs)
                pid = start(name, command, clean_env())
                path = "/api/user/leads" + (FILTER if mode == "mock" and not logs else "")
                got = httpx.get(url(name, path), headers=headers)  # fill, or answer once
                got.raise_for_status()
                if mode == "mock" and not logs:
                    filtered.write_bytes(got.content)
                    targets.append(("mock filtered", url(name, path), pid))
                    targets.append(("mock", url(name), pid))
                else:
                    label = {"proxy": "proxy hit", "proxy-logs": "proxy hit, access lines",
                             "mock-logs": "mock, access lines"}[name]  # fmt: skip
                    targets.append((label, url(name), pid))
        for name, env in [
            ("raw", clean_env(BENCH_BODY=str(body))),
            ("raw-hit", clean_env(BENCH_BODY=str(body), BENCH_HEADERS="hit")),
            ("raw-filtered", clean_env(BENCH_BODY=str(filtered))),
        ]:
            pid = start(name, raw_command(ports[name], access_log=False), env)
            targets.append((RAW_LABELS[name], url(name, "/"), pid))
        return interleaved(targets, rounds, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    load_from_cpu_1()
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(Path(tmp), args.seconds, args.rounds)
    title = f"20 leads, {args.rounds} interleaved rounds x {args.seconds}s, wrk -c16"
    print_table(title, results, reference="raw, hit headers")

    def ratio(one: str, other: str) -> str:
        rps = results[one].rps / results[other].rps
        cpu = results[one].cpu_us / results[other].cpu_us
        return f"{rps:.2f}x req/s, {cpu:.2f}x CPU per request"

    print()
    print(f"proxy hit vs raw, hit headers:        {ratio('proxy hit', 'raw, hit headers')}")
    print(f"proxy hit vs raw:                     {ratio('proxy hit', 'raw')}")
    print(f"proxy hit, access lines vs without:   {ratio('proxy hit, access lines', 'proxy hit')}")
    print(f"mock, access lines vs without:        {ratio('mock, access lines', 'mock')}")
    print(f"mock filtered vs raw, filtered bytes: {ratio('mock filtered', 'raw, filtered bytes')}")
    print(f"mock vs raw:                          {ratio('mock', 'raw')}")


if __name__ == "__main__":
    main()
