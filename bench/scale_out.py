"""Scale-out: cache-hit throughput with 1 or 2 workers, with and without Redis.

    uv run python -m bench.scale_out [--seconds 5] [--rounds 2]

Every configuration serves the same cached answer (20 leads) to wrk on warm
connections, after one request has filled the cache. Ratios are against
1 worker without Redis, measured in the same run; each round visits the
configurations in the opposite order of the last. Configurations:

    1 worker                    the reference
    2 workers                   no Redis: each worker caches on its own
    1 worker + redis            --cache-url; hits from memory, Redis asked once
                                a second per key (--local-ttl 1, the default)
    2 workers + redis
    1 worker + redis, no hold   --local-ttl 0: every hit past its first starts a
                                Redis lookup (one at a time per key) while the
                                fresh copy in memory answers: the worst case
                                of asking Redis on the hit path
    1 worker + cluster          the same plain --cache-url, on a node of a
                                3-master Redis Cluster (tests.redis_setups)
    1 worker + cluster, no hold

The servers are not pinned and wrk runs on CPU 1: on a 2-CPU machine two
workers share the CPUs with wrk and Redis, so the 2-worker ratios here are
a floor. CPU per request counts the server and all its workers; Redis's own
CPU is its column (the single server's; the cluster's nodes are not counted).
All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
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
    cpu_seconds,
    free_port,
    generate_fixture,
    mean,
    print_table,
    raw_command,
    serving,
    wrk,
)
from tests.redis_setups import RedisCluster

SECRET = "bench-key-secret-0000000000000001"  # noqa: S105 (a throwaway for the bench)
CONFIGS: dict[str, tuple[int, str, str]] = {  # name: (workers, redis, local ttl)
    "1 worker": (1, "", "1"),
    "2 workers": (2, "", "1"),
    "1 worker + redis": (1, "single", "1"),
    "2 workers + redis": (2, "single", "1"),
    "1 worker + redis, no hold": (1, "single", "0"),
    "1 worker + cluster": (1, "cluster", "1"),
    "1 worker + cluster, no hold": (1, "cluster", "0"),
}


@contextmanager
def redis_server() -> Iterator[tuple[int, int]]:
    """(port, pid) of a throwaway redis-server."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", folder],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while (
                subprocess.run(
                    ["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False
                ).stdout.strip()
                != b"PONG"
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            yield port, process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextmanager
def redis_cluster(folder: Path) -> Iterator[str]:
    """The URL of one node of a throwaway 3-master Redis Cluster."""
    cluster = RedisCluster(folder).start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


def measure(seconds: int, rounds: int, connections: int) -> tuple[dict[str, Run], dict[str, float]]:
    runs: dict[str, list[Run]] = {name: [] for name in CONFIGS}
    redis_cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        body = generate_fixture(20, Path(tmp) / "fx") / "leads" / "default.json"
        up_port = free_port()
        up_env = clean_env(BENCH_BODY=str(body))
        with (
            serving(raw_command(up_port, access_log=False), up_port, up_env, cpus="0"),
            redis_server() as (redis_port, redis_pid),
            redis_cluster(Path(tmp)) as cluster_url,
        ):
            urls = {"single": f"redis://127.0.0.1:{redis_port}/0", "cluster": cluster_url}
            order = list(CONFIGS)
            for round_ in range(rounds):
                for name in order if round_ % 2 == 0 else order[::-1]:
                    workers, shared, hold = CONFIGS[name]
                    port = free_port()
                    command = [
                        str(BIN / "leads-proxy"), "serve", "--mode", "proxy",
                        "--port", str(port), "--upstream-url", f"http://127.0.0.1:{up_port}/api",
                        "--ttl", "3600", "--access-log", "off", "--workers", str(workers),
                    ]  # fmt: skip
                    if shared:
                        command += ["--cache-url", urls[shared], "--local-ttl", hold]
                    env = clean_env(LEADS_PROXY_KEY_SECRET=SECRET)
                    with serving(command, port, env, cpus=None) as pid:
                        url = f"http://127.0.0.1:{port}/api/user/leads"
                        headers = dict([AUTH.split(": ")])
                        for _ in range(4 * workers):  # fill, and warm every worker
                            httpx.get(url, headers=headers).raise_for_status()
                        before = cpu_seconds(redis_pid)
                        runs[name].append(wrk(url, pid, seconds, connections=connections))
                        redis_cpu[name].append(cpu_seconds(redis_pid) - before)
    totals = {name: mean(found) for name, found in runs.items()}
    per_request = {
        name: sum(redis_cpu[name]) / (totals[name].rps * seconds * rounds) * 1e6 for name in CONFIGS
    }
    return totals, per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64, help="wrk's open connections")
    args = parser.parse_args()
    for tool in ("wrk", "taskset", "redis-server", "redis-cli"):
        if not shutil.which(tool):
            raise SystemExit(f"needs {tool}: apt-get install wrk util-linux redis-server")
    os.sched_setaffinity(0, {1})
    results, redis_us = measure(args.seconds, args.rounds, args.connections)
    title = (
        f"Cache hits by workers and Redis, 20 leads ({args.rounds} rounds x {args.seconds}s, "
        f"{args.connections} connections, {os.cpu_count()} CPUs, no access logs)"
    )
    print_table(title, results, "1 worker")
    print(f"\n{'server':<28}{'redis CPU us/req':>18}")
    for name, micros in redis_us.items():
        print(f"{name:<28}{micros:>18.2f}")


if __name__ == "__main__":
    main()
