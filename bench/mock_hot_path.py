"""Mock mode's hot path against a raw ASGI app serving the same bytes, in one run.

    uv run python bench/mock_hot_path.py [--seconds 5] [--rounds 2]

Both servers run under uvicorn with its defaults (access log on, output to
/dev/null), pinned to CPU 0; wrk runs pinned to CPU 1 and talks to 127.0.0.1
only. For each fixture size it prints requests/s, p50/p99 latency and server
CPU time per request (from /proc), and the ratios of leads-proxy to the raw
app. Absolute numbers on a shared machine are noise; the ratios are the result.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AUTH = "Authorization: Bearer 1|bench-key"
TICKS = os.sysconf("SC_CLK_TCK")
SIZES = (20, 10_000)


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU time per request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def serving(command: list[str], port: int, env: dict[str, str]) -> Iterator[int]:
    process = subprocess.Popen(
        ["taskset", "-c", "0", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_proxy/health", timeout=1)
                break
            except httpx.TransportError as error:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"server did not start: {command}") from error
                time.sleep(0.05)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def wrk(url: str, pid: int, seconds: int) -> Run:
    def once(duration: int) -> tuple[str, float]:
        before = cpu_seconds(pid)
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                "-c16",
                f"-d{duration}s",
                "--latency",
                "-H",
                AUTH,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out, cpu_seconds(pid) - before

    once(1)  # warm up
    out, cpu = once(seconds)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=latency(out, "50%"),
        p99_ms=latency(out, "99%"),
        cpu_us=cpu / requests * 1e6,
    )


def latency(out: str, label: str) -> float:
    value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def mean(runs: list[Run]) -> Run:
    return Run(
        *(statistics.mean(getattr(run, f) for run in runs) for f in Run.__dataclass_fields__)
    )


def measure(size: int, work: Path, seconds: int, rounds: int) -> dict[str, Run]:
    fixtures = work / f"fx-{size}"
    (fixtures / "leads").mkdir(parents=True)
    subprocess.run(
        [BIN / "leads-proxy", "fixtures", "generate", "--count", str(size), "--seed", "1",
         "--out", fixtures / "leads" / "default.json"],
        check=True, capture_output=True,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADS_PROXY_")}
    ours_port, raw_port = free_port(), free_port()
    ours_cmd = [str(BIN / "leads-proxy"), "serve", "--port", str(ours_port)]
    ours_cmd += ["--fixtures", str(fixtures)]
    raw_cmd = [str(BIN / "python"), "-m", "uvicorn", "bench.raw_app:app", "--port", str(raw_port)]
    ours_url = f"http://127.0.0.1:{ours_port}/api/user/leads"
    body = work / f"body-{size}.json"
    runs: dict[str, list[Run]] = {"raw": [], "leads-proxy": [], "leads-proxy filtered": []}
    with serving(ours_cmd, ours_port, env) as ours:
        # The reference serves exactly the bytes leads-proxy answers.
        body.write_bytes(httpx.get(ours_url, headers=dict([AUTH.split(": ")])).content)
        with serving(raw_cmd, raw_port, {**env, "BENCH_BODY": str(body)}) as raw:
            targets = [
                ("raw", f"http://127.0.0.1:{raw_port}/", raw),
                ("leads-proxy", ours_url, ours),
                ("leads-proxy filtered", ours_url + "?status=completed", ours),
            ]
            for round_ in range(rounds):
                # Alternate the order, so that neither side always runs first.
                for name, url, pid in targets if round_ % 2 == 0 else targets[::-1]:
                    runs[name].append(wrk(url, pid, seconds))
    return {name: mean(found) for name, found in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), metavar="LEADS")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            results = measure(size, Path(tmp), args.seconds, args.rounds)
            raw = results["raw"]
            print(f"\n{size:,} leads ({args.rounds} rounds x {args.seconds}s, wrk -c16)")
            print(f"{'server':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}"
                  f"{'req/s ratio':>13}{'CPU ratio':>11}")  # fmt: skip
            for name, run in results.items():
                print(
                    f"{name:<22}{run.rps:>10.0f}{run.p50_ms:>9.2f}{run.p99_ms:>9.2f}"
                    f"{run.cpu_us:>12.1f}{run.rps / raw.rps:>13.2f}{run.cpu_us / raw.cpu_us:>11.2f}"
                )


if __name__ == "__main__":
    main()
