"""Mock mode's writes: a written key's listing against a plain mock hit, and creates/s.

    uv run python -m bench.writes [--seconds 3] [--rounds 4]

One interleaved run (servers on CPU 0, wrk on CPU 1, 127.0.0.1 only):

- `mock`: a key that never wrote, the fixtures' 20 leads answered from ready bytes;
- `state`: a key that created 20 leads first (40 in its listing), its listing
  answered from the ready bytes made after its last write; `state filtered` is
  the same with `?status=created` asked once before;
- `creates, N worker(s)`: `POST /api/user/lead` with `--workers 1` and `2`,
  spread over 500 keys (each a new lead, one SQLite transaction each; the
  state starts empty for each server);
- `raw`: the bare ASGI app sending the plain listing's bytes, the floor.

Both servers' workers share CPU 0, so the two-worker figure shows what the
workers' shared SQLite costs, not how writes scale with CPUs.
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

WRITER = "Authorization: Bearer 1|bench-writer"
CREATED = 20
# Each request a new lead for one of 500 keys (a key holds at most 10,000 leads).
CREATE_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"phone_number": "+12015550123", "campaign_id": 1, "allow_dupplicate": true}'
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["Authorization"] = "Bearer 1|bench-creator-" .. (counter % 500)
  return wrk.format()
end
"""


def serve_command(port: int, fixtures: Path, *extra: str) -> list[str]:
    command = [str(BIN / "leads-proxy"), "serve", "--port", str(port), "--fixtures", str(fixtures)]
    return [*command, "--access-log", "off", *extra]


def write_leads(url: str, count: int) -> None:
    """`count` leads created by the writing key, then its listings asked once."""
    headers = dict([WRITER.split(": ")])
    with httpx.Client(base_url=url, headers=headers) as http:
        for index in range(count):
            body = {"phone_number": f"+1201555{index:04d}", "campaign_id": 1}
            http.post("/api/user/lead", json=body).raise_for_status()
        http.get("/api/user/leads").raise_for_status()
        http.get("/api/user/leads?status=created").raise_for_status()


def measure(work: Path, seconds: int, rounds: int, script: Path) -> dict[str, Run]:
    fixtures = generate_fixture(20, work / "fx")
    body = work / "plain.json"
    ports = {name: free_port() for name in ("mock", "one", "two", "raw")}
    targets: list[tuple[str, str, int]] = []
    with ExitStack() as stack:

        def url(name: str, path: str = "/api/user/leads") -> str:
            return f"http://127.0.0.1:{ports[name]}{path}"

        mock = stack.enter_context(
            serving(serve_command(ports["mock"], fixtures), ports["mock"], clean_env())
        )
        plain = httpx.get(url("mock"), headers=dict([AUTH.split(": ")]))
        body.write_bytes(plain.raise_for_status().content)
        write_leads(url("mock", ""), CREATED)
        targets += [("mock", url("mock"), mock), ("state", url("mock"), mock)]
        targets.append(("state filtered", url("mock", "/api/user/leads?status=created"), mock))
        for name, workers in (("one", "1"), ("two", "2")):
            command = serve_command(ports[name], fixtures, "--workers", workers)
            pid = stack.enter_context(serving(command, ports[name], clean_env()))
            label = f"creates, {workers} worker{'s' if workers != '1' else ''}"
            targets.append((label, f"{url(name, '/api/user/lead')}", pid))
        raw = raw_command(ports["raw"], access_log=False)
        pid = stack.enter_context(serving(raw, ports["raw"], clean_env(BENCH_BODY=str(body))))
        targets.append(("raw", url("raw", "/"), pid))
        writer = {"state": [WRITER], "state filtered": [WRITER]}
        creates = {"creates, 1 worker": script, "creates, 2 workers": script}
        return interleaved(targets, rounds, seconds, writer, creates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    load_from_cpu_1()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "create.lua"
        script.write_text(CREATE_SCRIPT)
        results = measure(Path(tmp), args.seconds, args.rounds, script)
    title = f"20 leads, {args.rounds} interleaved rounds x {args.seconds}s, wrk -c16"
    print_table(title, results, reference="mock")
    summary = {
        "state / mock req/s": results["state"].rps / results["mock"].rps,
        "state filtered / mock req/s": results["state filtered"].rps / results["mock"].rps,
        "creates/s, 1 worker": results["creates, 1 worker"].rps,
        "creates/s, 2 workers": results["creates, 2 workers"].rps,
        "creates, 2 workers / 1": results["creates, 2 workers"].rps
        / results["creates, 1 worker"].rps,
        "mock / raw req/s": results["mock"].rps / results["raw"].rps,
    }
    print(json.dumps({name: round(value, 2) for name, value in summary.items()}, indent=2))


if __name__ == "__main__":
    main()
