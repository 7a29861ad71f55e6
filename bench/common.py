"""What the benchmarks share: servers on CPU 0, wrk on CPU 1, CPU time from /proc."""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AUTH = "Authorization: Bearer 1|bench-key"
TICKS = os.sysconf("SC_CLK_TCK")


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


def load_from_cpu_1() -> None:
    """Check wrk and taskset are here, and keep this process (load too) off CPU 0."""
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    os.sched_setaffinity(0, {1})


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live descendants (the workers of a server)."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    tree, total = {pid}, 0.0
    for _ in range(3):  # server -> workers; deep enough
        tree |= {child for child, (parent, _) in stats.items() if parent in tree}
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


@contextmanager
def serving(
    command: list[str], port: int, env: dict[str, str], *, cpus: str | None = "0"
) -> Iterator[int]:
    """Run a server (on `cpus`, or anywhere when None) until the block ends; yield its pid."""
    with tempfile.TemporaryFile() as said:  # what a server that fails to start said
        process = subprocess.Popen(
            [*(["taskset", "-c", cpus] if cpus else []), *command],
            stdout=subprocess.DEVNULL,
            stderr=said,
            env=env,
            cwd=ROOT,
        )
        try:
            _wait_for(process, port, command, said)
            yield process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


def _wait_for(
    process: subprocess.Popen[bytes], port: int, command: list[str], said: IO[bytes]
) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_proxy/health", timeout=1)
        except httpx.TransportError as error:
            if time.monotonic() > deadline or process.poll() is not None:
                said.seek(0)
                tail = said.read()[-2000:].decode(errors="replace")
                raise SystemExit(f"server did not start: {command}\n{tail}") from error
            time.sleep(0.05)
        else:
            return


def wrk(
    url: str,
    pid: int,
    seconds: int,
    *,
    connections: int = 16,
    headers: Sequence[str] = (),
    script: Path | None = None,
) -> Run:
    """wrk on `url` with AUTH (or the Authorization among `headers`) and `script` (Lua)."""
    auth = next((h for h in headers if h.lower().startswith("authorization:")), AUTH)
    extra = [option for header in headers if header != auth for option in ("-H", header)]
    if script is not None:
        extra += ["--script", str(script)]

    def once(duration: int) -> tuple[str, float]:
        before = cpu_seconds(pid)
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-H",
                auth,
                *extra,
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


def interleaved(
    targets: list[tuple[str, str, int]],
    rounds: int,
    seconds: int,
    headers: Mapping[str, Sequence[str]] | None = None,
    scripts: Mapping[str, Path] | None = None,
    *,
    connections: Mapping[str, int] | None = None,
) -> dict[str, Run]:
    """wrk on every (name, url, server pid) once a round, the order reversed every
    other round so that no side always runs first; the mean Run of each name.
    `headers` adds request headers to the named targets' requests (an Authorization
    replaces AUTH), `scripts` a wrk Lua script, `connections` wrk's -c (16 if not named)."""
    runs: dict[str, list[Run]] = {name: [] for name, _, _ in targets}
    for round_ in range(rounds):
        for name, url, pid in targets if round_ % 2 == 0 else targets[::-1]:
            chosen, script = (headers or {}).get(name, ()), (scripts or {}).get(name)
            count = (connections or {}).get(name, 16)
            runs[name].append(
                wrk(url, pid, seconds, headers=chosen, script=script, connections=count)
            )
    return {name: mean(found) for name, found in runs.items()}


def print_table(title: str, results: dict[str, Run], reference: str) -> None:
    raw = results[reference]
    wide = max(24, *(len(name) + 1 for name in results))
    print(f"\n{title}")
    print(f"{'server':<{wide}}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/req':>12}"
          f"{'req/s ratio':>13}{'CPU ratio':>11}")  # fmt: skip
    for name, run in results.items():
        print(
            f"{name:<{wide}}{run.rps:>10.0f}{run.p50_ms:>9.2f}{run.p99_ms:>9.2f}"
            f"{run.cpu_us:>12.1f}{run.rps / raw.rps:>13.2f}{run.cpu_us / raw.cpu_us:>11.2f}"
        )


def generate_fixture(size: int, folder: Path) -> Path:
    """A fixtures folder whose default example has `size` leads, made by the CLI."""
    (folder / "leads").mkdir(parents=True)
    subprocess.run(
        [BIN / "leads-proxy", "fixtures", "generate", "--count", str(size), "--seed", "1",
         "--out", folder / "leads" / "default.json"],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADS_PROXY_")}
    return {**env, **extra}


def raw_command(port: int, *, access_log: bool = True, server: str = "uvicorn") -> list[str]:
    """The raw app (bench.raw_app) under uvicorn, or granian's ASGI interface."""
    if server == "granian":
        command = [str(BIN / "granian"), "--interface", "asgi", "--http", "1", "--no-ws",
                   "--port", str(port), "--log-level", "warning", "bench.raw_app:app"]  # fmt: skip
        return [*command, "--access-log"] if access_log else command
    command = [str(BIN / "python"), "-m", "uvicorn", "bench.raw_app:app", "--port", str(port)]
    return command if access_log else [*command, "--no-access-log"]


def ours_flags(*, access_log: bool) -> list[str]:
    return [] if access_log else ["--access-log", "off"]
