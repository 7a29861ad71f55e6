"""`fixtures generate`'s speed against another revision's generator, in one run.

    uv run python -m bench.generate --against 2ce3022 [--count 100000] [--rounds 3]

Loads `app/generate.py` as it was at REV (from git) beside today's, makes
`--count` leads with each, rounds interleaved and the order reversed every
other round, and prints the best time of each and their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT
from leads_proxy.fixtures import generate

Generator = Callable[..., list[dict[str, Any]]]


def generator_at(revision: str) -> Generator:
    source = subprocess.run(
        ["git", "show", f"{revision}:app/generate.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "generate_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("generate_then", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the generator of {revision}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made: Generator = module.generate_leads
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, metavar="REV")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pair: dict[str, Generator] = {
        "then": generator_at(args.against),
        "now": generate.generate_leads,
    }
    for made in pair.values():
        made(10, seed=0)  # tables and plans are made once per process: not timed
    times: dict[str, list[float]] = {name: [] for name in pair}
    for round_ in range(args.rounds):
        order = list(pair) if round_ % 2 == 0 else list(reversed(pair))
        for name in order:
            started = time.perf_counter()
            pair[name](args.count, seed=round_)
            times[name].append(time.perf_counter() - started)
    then, now = min(times["then"]), min(times["now"])
    print(f"{args.count:,} leads: {args.against} {then:.2f} s, now {now:.2f} s: {now / then:.2f}x")


if __name__ == "__main__":
    main()
