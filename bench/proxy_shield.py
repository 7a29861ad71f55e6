"""Proxy mode as a shield, measured against references taken in the same run.

    uv run python -m bench.proxy_shield [--seconds 5] [--rounds 2]

1. Cache hits: wrk against leads-proxy serving a cached answer, and against
   the raw ASGI app (bench/raw_app.py) serving the same bytes; the raw app is
   also the upstream. 20 and 10,000 leads.
2. Collapse: 500 clients on warm connections ask for one cold key at once,
   through an upstream that takes 200 ms. Counts upstream requests and the time
   until all 500 are answered, as a ratio of one direct upstream request.
3. Added latency of a miss: the same sequence of distinct queries sent directly
   to a fast upstream and through leads-proxy, interleaved; p50 and p99 of both
   and the difference.

For 1 and 2, servers run on CPU 0 and the load (wrk, or this process) on CPU 1;
3 runs unpinned. All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def upstream_and_proxy(
    body: Path, *proxy_args: str, delay: float = 0.0, cpus: str | None = "0", logs: bool = True
) -> Iterator[tuple[int, int, int, int]]:
    """(upstream port, upstream pid, proxy port, proxy pid)."""
    up_port, proxy_port = free_port(), free_port()
    up_env = clean_env(BENCH_BODY=str(body), BENCH_DELAY=str(delay))
    proxy_cmd = [
        str(BIN / "leads-proxy"), "serve", "--mode", "proxy", "--port", str(proxy_port),
        "--upstream-url", f"http://127.0.0.1:{up_port}/api", *proxy_args,
        *ours_flags(access_log=logs),
    ]  # fmt: skip
    with (
        serving(raw_command(up_port, access_log=logs), up_port, up_env, cpus=cpus) as up_pid,
        serving(proxy_cmd, proxy_port, clean_env(), cpus=cpus) as proxy_pid,
    ):
        yield up_port, up_pid, proxy_port, proxy_pid


def hits(body: Path, seconds: int, rounds: int, *, logs: bool) -> dict[str, Run]:
    with upstream_and_proxy(body, "--ttl", "3600", logs=logs) as (up_port, up_pid, port, pid):
        url = f"http://127.0.0.1:{port}/api/user/leads"
        httpx.get(url, headers=dict([AUTH.split(": ")])).raise_for_status()  # fill
        targets = [("raw", f"http://127.0.0.1:{up_port}/", up_pid), ("leads-proxy hit", url, pid)]
        return interleaved(targets, rounds, seconds)


async def read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def burst(port: int, clients: int, key: str) -> tuple[float, list[int]]:
    """Seconds until every client has its answer to one cold key, and the statuses."""
    connections = await asyncio.gather(
        *(asyncio.open_connection("127.0.0.1", port) for _ in range(clients))
    )
    for _, writer in connections:  # warm: every connection accepted and in use
        writer.write(b"GET /_proxy/health HTTP/1.1\r\nHost: bench\r\n\r\n")
    await asyncio.gather(*(read_answer(reader) for reader, _ in connections))
    request = (
        f"GET /api/user/leads HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    for _, writer in connections:
        writer.write(request)
    statuses = await asyncio.gather(*(read_answer(reader) for reader, _ in connections))
    elapsed = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return elapsed, statuses


def collapse(body: Path, clients: int, rounds: int) -> None:
    with upstream_and_proxy(body, delay=0.2) as (up_port, _, port, _):
        direct = []
        for _ in range(5):
            started = time.perf_counter()
            httpx.get(f"http://127.0.0.1:{up_port}/api/user/leads").raise_for_status()
            direct.append(time.perf_counter() - started)
        upstream_time = statistics.median(direct)
        print(f"\nCollapse: {clients} clients, one cold key each round, upstream answers in "
              f"{upstream_time * 1000:.0f} ms")  # fmt: skip
        header = f"{'round':<8}{'upstream requests':>19}{'all answered ms':>17}{'ratio':>8}"
        print(header + f"{'non-200':>9}")
        asyncio.run(burst(port, clients, "9|warm-up-key"))  # first connections, not counted
        for round_ in range(rounds):
            stats_url = f"http://127.0.0.1:{port}/_proxy/stats"
            before = httpx.get(stats_url).json()["upstream_requests"]
            elapsed, statuses = asyncio.run(burst(port, clients, f"9|cold-key-{round_}"))
            made = httpx.get(stats_url).json()["upstream_requests"] - before
            bad = sum(status != 200 for status in statuses)
            print(f"{round_ + 1:<8}{made:>19}{elapsed * 1000:>17.0f}"
                  f"{elapsed / upstream_time:>8.2f}{bad:>9}")  # fmt: skip


def miss_latency(body: Path, requests: int) -> None:
    # Unpinned: a serial chain of three processes on two CPUs is best left to
    # the scheduler (pinned, the proxy and the upstream would share a CPU and
    # every hop between them would wait for a context switch).
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    with upstream_and_proxy(body, cpus=None) as (up_port, _, port, _):
        direct_ms: list[float] = []
        proxy_ms: list[float] = []
        headers = dict([AUTH.split(": ")])
        with httpx.Client(headers=headers) as client:
            for number in range(requests):
                query = f"?page={number + 1}"  # a new query: every proxied request is a miss
                for url, into in [
                    (f"http://127.0.0.1:{up_port}/api/user/leads{query}", direct_ms),
                    (f"http://127.0.0.1:{port}/api/user/leads{query}", proxy_ms),
                ]:
                    started = time.perf_counter()
                    response = client.get(url)
                    into.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                    if into is proxy_ms and response.headers["x-cache"] != "MISS":
                        raise SystemExit(f"expected a miss, got {response.headers['x-cache']}")

    def pct(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    print(f"\nMiss latency: {requests} distinct queries, each direct and through leads-proxy")
    print(f"{'':<16}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'direct':<16}{pct(direct_ms, 50):>9.3f}{pct(direct_ms, 99):>9.3f}")
    print(f"{'leads-proxy':<16}{pct(proxy_ms, 50):>9.3f}{pct(proxy_ms, 99):>9.3f}")
    added_50 = pct(proxy_ms, 50) - pct(direct_ms, 50)
    added_99 = pct(proxy_ms, 99) - pct(direct_ms, 99)
    print(f"{'added':<16}{added_50:>9.3f}{added_99:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--misses", type=int, default=500)
    parser.add_argument(
        "--quiet", action="store_true", help="no access logs in the hit test (default: with)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        raise SystemExit("needs wrk and taskset: apt-get install wrk util-linux")
    os.sched_setaffinity(0, {1})  # this process is load too: keep it off the servers' CPU
    with tempfile.TemporaryDirectory() as tmp:
        bodies = {
            size: generate_fixture(size, Path(tmp) / f"fx-{size}") / "leads" / "default.json"
            for size in SIZES
        }
        for size, body in bodies.items():
            logs = "no access logs" if args.quiet else "access logs on"
            title = f"Cache hits, {size:,} leads ({args.rounds} rounds x {args.seconds}s, {logs})"
            print_table(title, hits(body, args.seconds, args.rounds, logs=not args.quiet), "raw")
        collapse(bodies[20], args.clients, rounds=3)
        miss_latency(bodies[20], args.misses)


if __name__ == "__main__":
    main()
