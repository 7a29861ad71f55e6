"""The runtime's footprint: what `uv sync --no-dev` installs, the image's venv, stays small.

The runtime venv is built from uv's cache (`--offline`: the test command's own sync
has filled it), as the Dockerfile builds it, and measured file by file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leads_proxy.fixtures.generate import generate_leads
from tests.support import ROOT

MB = 1_000_000
# Files in site-packages, without bytecode: 39.7 MB when the bound was set (Python 3.11),
# once phonenumberslite and four name lists replaced phonenumbers (21.8 MB, most of it
# geocoding and carrier tables) and Faker (9.1 MB of locales); 69.6 MB before.
RUNTIME_BOUND_MB = 45


def uv() -> str:
    found = shutil.which("uv") or ROOT / ".cache" / "uv-bootstrap" / "bin" / "uv"
    assert Path(found).exists(), "uv: scripts/test puts it in .cache/uv-bootstrap"
    return str(found)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of the locked runtime dependencies and the project (editable), no dev group."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    synced = subprocess.run(
        [uv(), "sync", "--locked", "--no-dev", "--offline", "--quiet", "--python", sys.executable],
        cwd=ROOT, env={**env, "UV_PROJECT_ENVIRONMENT": str(venv)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    return venv


def _sizes(site: Path) -> dict[str, int]:
    """Bytes of regular files under each top-level entry of site-packages."""
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        files = [entry] if not entry.is_dir() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[entry.name] = sum(path.lstat().st_size for path in files)
    return sizes


def test_runtime__dependencies_stay_under_the_stated_bound(runtime: Path) -> None:
    (site,) = runtime.glob("lib/python*/site-packages")
    sizes = _sizes(site)
    total = sum(sizes.values())
    largest = ", ".join(
        f"{name} {size / MB:.1f} MB"
        for name, size in sorted(sizes.items(), key=lambda item: -item[1])[:5]
    )
    assert total < RUNTIME_BOUND_MB * MB, (
        f"the runtime dependencies take {total / MB:.1f} MB, over the bound of "
        f"{RUNTIME_BOUND_MB} MB (tests/e2e/test_footprint.py); largest: {largest}. "
        "Raise the bound only for a dependency the image needs, and say so in "
        "docs/development.md (Footprint)."
    )


def test_runtime__generates_the_same_leads_without_faker_or_phone_geodata(
    runtime: Path, tmp_path: Path
) -> None:
    python = runtime / "bin" / "python"
    missing = subprocess.run(
        [python, "-c", "import importlib.util as u; "
         "print([m for m in ('faker', 'phonenumbers.geodata', 'phonenumbers.carrierdata')"
         " if u.find_spec(m) is not None])"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert missing.returncode == 0, missing.stderr
    assert missing.stdout.strip() == "[]", "installed in the runtime, unused by it"
    out = tmp_path / "leads.json"
    made = subprocess.run(
        [runtime / "bin" / "leads-proxy", "fixtures", "generate", "--count", "300",
         "--seed", "7", "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == generate_leads(300, seed=7)
