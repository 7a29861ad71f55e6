"""The document says exactly what is served: the Prefer grammar against the parser,
blank values as PHP trims them, errors in Laravel's shape, forwarded paths written out."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leads_proxy.edge.factory import create_app
from leads_proxy.edge.openapi_listing import BLANK as OPENAPI_BLANK
from leads_proxy.edge.openapi_listing import prefer_pattern
from leads_proxy.edge.openapi_proxy import FORWARDED
from leads_proxy.http.canonical import php_trim
from leads_proxy.mock.prefer import PreferError, parse_prefer
from leads_proxy.settings.declarations import Settings
from leads_proxy.settings.values import Mode

EXAMPLES = ["default", "documented", "empty", "large"]
PATTERN = re.compile(prefer_pattern(EXAMPLES))
WORDS = ["example", "EXAMPLE", "code", "Code", "dynamic", "seed", "count", "delay", "codex",
         "true", "FALSE", "default", "empty", "nope", "200", "401", "999", "0", "00010",
         "10000", "10001", "60000", "60001", "9" * 19, "1" * 20, "9223372036854775807",
         "9223372036854775808", "0" * 10, "seed=", "count=", "delay=", "1", "5",
         "=", ",", ";", " ", '"', "x"]  # fmt: skip


def accepted(value: str) -> bool:
    """What mock mode does with a Prefer value: True unless it answers 400 or 404."""
    try:
        prefs = parse_prefer([value])
    except PreferError:
        return False
    return prefs.example is None or prefs.example in EXAMPLES


@settings(max_examples=500)
@given(st.lists(st.sampled_from(WORDS), max_size=12).map("".join))
@example("code=999,code=200")
@example('example = "empty" ; dynamic=false')
@example("example=, code=0200")
@example("delay=000000000000000000060000")
@example("seed=9223372036854775807, count=0000000000000010000")
@example("seed=9223372036854775808")
def test_prefer_pattern__matches_exactly_what_the_parser_accepts(value: str) -> None:
    if "example" in value.lower() and "dynamic" in value.lower():
        return  # example with dynamic=true: a rule the description states, not the pattern
    assert bool(PATTERN.fullmatch(value)) is accepted(value), value


BLANK = re.compile(OPENAPI_BLANK["pattern"])


def test_blank__matches_exactly_the_values_php_trim_empties() -> None:
    for code in range(0x2100):
        value = chr(code) * 2
        assert bool(BLANK.fullmatch(value)) is (php_trim(value) == ""), hex(code)


def document(mode: str) -> dict[str, Any]:
    settings = (
        Settings(mode=Mode.PROXY, upstream_url="http://127.0.0.1:9/api")
        if mode == "proxy"
        else Settings()
    )
    built: dict[str, Any] = create_app(settings).openapi()
    return built


@pytest.mark.parametrize("mode", ["proxy", "mock"])
def test_document__every_refusal_is_declared_in_laravels_shape(mode: str) -> None:
    built = document(mode)
    assert "HTTPValidationError" not in json.dumps(built)
    for path, item in built["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if status[0] in "45":
                    schema = json.dumps(answer["content"]["application/json"]["schema"])
                    assert "ErrorBody" in schema, (method, path, status)


def test_document__proxy_mode_writes_each_forwarded_path_out_with_its_own_id() -> None:
    built = document("proxy")
    ids = [op["operationId"] for item in built["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    forwarded = {
        (method, path): operation
        for path, item in built["paths"].items()
        for method, operation in item.items()
        if operation.get("tags") == ["forwarded"]
    }
    assert len(forwarded) == len(FORWARDED)
    for (method, path), operation in forwarded.items():
        assert path.startswith("/api/user/"), path
        assert "{rest}" not in path
        params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
        assert params == re.findall(r"{(\w+)}", path), (method, path)
        assert {"400", "404", "413", "502", "504", "default"} <= set(operation["responses"])


def test_document__mock_mode_forwards_nothing() -> None:
    built = document("mock")
    served = {"/api/user/leads", "/api/user/lead", "/api/user/leads/{lead_id}", "/api/user/campaigns"}
    assert {path for path in built["paths"] if path.startswith("/api/")} == served
