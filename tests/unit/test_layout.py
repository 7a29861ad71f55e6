"""The layout is the architecture: imports flow one way, and the plain layers stay light.

Floors, from the bottom (`docs/development.md`): http and settings; fixtures;
observe; mock and proxy, side by side, neither importing the other; edge; commands;
and the top-level modules (cli, the pytest plugin). A module imports only from
its own floor or below.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.support import ROOT

APP = ROOT / "app"
FLOORS = {
    "http": 0,
    "settings": 0,
    "fixtures": 1,
    "observe": 2,
    "mock": 3,
    "proxy": 3,
    "edge": 4,
    "commands": 5,
    "": 6,  # cli.py, pytest_plugin.py, __main__.py
}
APART = [{"mock", "proxy"}, {"http", "settings"}]


def _folder(module: str) -> str:
    """The folder of a dotted module name inside the package ("" for a top-level one)."""
    first = module.split(".", maxsplit=1)[0]
    return first if (APP / first).is_dir() else ""


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import inside the package."""
    found = []
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP).with_suffix("").parts
        package = parts[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert node.level or (node.module or "").split(".")[0] not in {"app", "leads_proxy"}, (
                f"{where}: the package imports itself relatively"
            )
            if not node.level:
                continue
            base = package[: len(package) - node.level + 1]
            if node.module:
                targets = [(*base, *node.module.split("."))]
            else:  # from . import admin: each name a module
                targets = [(*base, alias.name) for alias in node.names]
            found += [(".".join(parts), ".".join(target), node.lineno) for target in targets]
    return found


def _running_up(imports: list[tuple[str, str, int]]) -> list[str]:
    wrong = []
    for importer, imported, line in imports:
        mine, theirs = _folder(importer), _folder(imported)
        if FLOORS[theirs] > FLOORS[mine] or (mine != theirs and {mine, theirs} in APART):
            wrong.append(f"{importer}:{line} imports {imported}")
    return wrong


def test_layout__no_module_imports_from_a_floor_above_its_own() -> None:
    imports = _imports()
    assert len(imports) > 100  # the package's own imports were all read
    assert _running_up(imports) == []


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        pytest.param("http.reply", "edge.asgi", id="up-from-the-bottom"),
        pytest.param("proxy.service", "mock.service", id="proxy-to-mock"),
        pytest.param("observe.journal", "proxy.cache", id="observe-to-proxy"),
        pytest.param("edge.factory", "cli", id="edge-to-the-top"),
    ],
)
def test_layout__the_rule_catches_an_import_running_up(importer: str, imported: str) -> None:
    assert _running_up([(importer, imported, 1)]) != []


def test_layout__every_module_is_one_idea_of_at_most_about_300_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in APP.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 300
    }
    assert long == {}


@pytest.mark.parametrize(
    ("modules", "never"),
    [
        pytest.param(
            ["http.reply", "http.request", "http.service", "http.etag", "http.keys"],
            ["pydantic", "phonenumbers", "httpx", "fastapi", "starlette", "faker"],
            id="plain-values",
        ),
        pytest.param(
            ["proxy.policy"],
            ["httpx", "fastapi", "starlette", "redis", "pydantic"],
            id="cache-rules",
        ),
        pytest.param(
            ["mock.service", "proxy.service", "observe.observer"],
            ["fastapi", "starlette", "uvicorn"],
            id="services-without-the-framework",
        ),
    ],
)
def test_layout__importing_a_layer_loads_nothing_it_does_not_need(
    modules: list[str], never: list[str]
) -> None:
    code = (
        "import sys\n"
        + "".join(f"import leads_proxy.{module}\n" for module in modules)
        + f"print(sorted(set(m.split('.')[0] for m in sys.modules) & {set(never)!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
