"""The README and docs/ as a newcomer meets them: links lead somewhere, flags exist,
and the commands they show run as written (those that need no key or network)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from leads_proxy.cli import build_parser
from tests.support import LEADS_PROXY, ROOT, clean_env

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
FLAG = re.compile(r"`(--[a-z][a-z-]+)")
OTHER_TOOLS = {"--locked", "--strict-markers", "--quiet"}  # uv's, pytest's, the benchmarks'
COMMAND = re.compile(r"^\.venv/bin/leads-proxy (fixtures (?:validate|generate)[^#\n]*)", re.M)


def all_flags() -> set[str]:
    flags: set[str] = set()
    parser = build_parser()
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            flags.update(option for option in action.option_strings if option.startswith("--"))
            if action.choices and isinstance(action.choices, dict):
                stack.extend(action.choices.values())
    return flags


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_docs__every_relative_link_leads_to_a_file(page: Path) -> None:
    for target in LINK.findall(page.read_text()):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name}: {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_docs__every_flag_named_is_a_real_flag(page: Path) -> None:
    known = all_flags() | OTHER_TOOLS
    named = set(FLAG.findall(page.read_text()))
    assert named - known == set(), page.name


def test_docs__readme_is_short_and_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in PAGES[1:]:
        assert f"docs/{page.name}" in readme


@pytest.mark.parametrize(
    "command",
    sorted({found.strip() for page in PAGES for found in COMMAND.findall(page.read_text())}),
)
def test_docs__fixtures_commands_run_as_written(command: str, tmp_path: Path) -> None:
    # In a copy of the checkout's fixtures: a command may write into them.
    shutil.copytree(ROOT / "fixtures", tmp_path / "fixtures")
    args = [arg.replace("/tmp/", f"{tmp_path}/") for arg in shlex.split(command)]
    done = subprocess.run(
        [LEADS_PROXY, *args], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
