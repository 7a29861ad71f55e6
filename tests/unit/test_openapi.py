"""The document says exactly what is served: the Prefer grammar against the parser,
blank values as PHP trims them, errors in Laravel's shape, forwarded paths written out."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leads_proxy.edge.factory import create_app
from leads_proxy.edge.openapi_bodies import level
from leads_proxy.edge.openapi_listing import BLANK as OPENAPI_BLANK
from leads_proxy.edge.openapi_listing import prefer_pattern
from leads_proxy.edge.openapi_proxy import FORWARDED
from leads_proxy.fixtures.campaigns import DAYS, FIELDS
from leads_proxy.fixtures.schema import E164_PATTERN
from leads_proxy.http.canonical import php_trim
from leads_proxy.mock.bodies import (
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    MAX_SECONDARY_CONTACTS,
    MAX_STRING_LENGTH,
    MAX_VARIABLES,
    UPDATABLE_STATUSES,
    Invalid,
    lead_changes,
    new_lead,
)
from leads_proxy.mock.prefer import PreferError, parse_prefer
from leads_proxy.mock.query import MAX_WHOLE_NUMBER
from leads_proxy.mock.writes import MAX_KEY_LEADS
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
    served = {
        "/api/user/leads",
        "/api/user/lead",
        "/api/user/leads/{lead_id}",
        "/api/user/campaigns",
    }
    assert {path for path in built["paths"] if path.startswith("/api/")} == served


# --- mock mode's writes: the document's bodies are what mock.bodies takes -----------

MOCK_SCHEMAS: dict[str, Any] = document("mock")["components"]["schemas"]


VALIDATORS = {
    name: jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": MOCK_SCHEMAS}}
    )
    for name in ("NewLead", "LeadChanges")
}


def valid(name: str, value: Any) -> bool:
    """Whether the document's schema `name` allows `value`, as schemathesis validates it."""
    return bool(VALIDATORS[name].is_valid(value))


def taken(parse: Any, body: dict[str, Any]) -> bool:
    try:
        parse(body)
    except Invalid:
        return False
    return True


def nested(depth: int, container: str = "object") -> Any:
    """Variables `depth` levels deep (the variables object is level 1), a 1 at the bottom."""
    value: Any = 1
    for _ in range(depth - 1):
        value = {"k": value} if container == "object" else [value]
    return {"k": value}


TOP = MAX_WHOLE_NUMBER
# Values that are no phone number at all, or valid ones: which string is a valid number is
# phonenumbers' to say, the one rule the document leaves to its description.
PHONES: list[Any] = [
    "+14155550123",
    " +1 (415) 555-0123\n",
    "",
    " \t",
    None,
    5,
    True,
    [],
    {},
    ["+1"],
]
# No 1.0: JSON Schema's integers include it, mock.bodies refuses it (reported).
SCALARS = [None, True, False, 0, 1, -1, 2, 1.5, "", " ", "\x00", "0", "1", " 1 ", "01",
           "+5", "-5", "05", "1.5", "1e3", "x", TOP, TOP + 1, 2**63, str(TOP), f" +{TOP} ",
           str(TOP + 1), "9" * 20, "created", " completed\n", "Created", "blacklisted",
           "reached-max-retries", [], {}, [1], {"a": 1}, ["a", "b"]]  # fmt: skip
LONG = MAX_STRING_LENGTH
TEXTS = ["x" * LONG, f" {'x' * LONG}\t", "x" * (LONG + 1), f"x{' ' * (LONG - 2)}x", "  "]
KEYS = st.sampled_from(["a", "customer_name", "k" * MAX_KEY_LENGTH, "k" * (MAX_KEY_LENGTH + 1)])
LEAVES = st.sampled_from([*SCALARS, *TEXTS]) | st.integers() | st.floats(allow_nan=False)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)
BOUNDS = [
    nested(MAX_DEPTH),
    nested(MAX_DEPTH + 1),
    nested(MAX_DEPTH, "list"),
    nested(MAX_DEPTH + 1, "list"),
    dict.fromkeys(map(str, range(MAX_VARIABLES)), 1),
    dict.fromkeys(map(str, range(MAX_VARIABLES + 1)), 1),
    {"k": list(range(MAX_VARIABLES + 1))},
]
VARIABLES = (
    st.sampled_from([*SCALARS, *BOUNDS])
    | st.dictionaries(KEYS, JSON, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "b"]), LEAVES, max_size=3)
)


def mostly(good: list[Any], anything: list[Any]) -> st.SearchStrategy[Any]:
    """One of `good` as often as any of `anything`: each field is mostly taken, so
    whole bodies are too, often enough to test both ways."""
    return st.sampled_from(good) | st.sampled_from(anything)


PHONE = mostly(PHONES[:2], PHONES)
ID = mostly([1, "7", f" +{TOP}\n", TOP], SCALARS)
BOOLEAN = mostly([True, False, 0, 1, "0", " 1 ", "", None], SCALARS)
STATUS = mostly([*UPDATABLE_STATUSES, " created\t"], SCALARS)
CONTACT = st.fixed_dictionaries({"phone_number": PHONE}, optional={"variables": VARIABLES})
CONTACTS = (
    st.sampled_from(SCALARS)
    | st.lists(CONTACT, max_size=3)
    | st.lists(CONTACT | st.sampled_from(SCALARS), max_size=3)
    | st.sampled_from([[{"phone_number": "+14155550123"}] * n for n in (100, 101)])
)
NEW_LEAD = st.fixed_dictionaries(
    {"phone_number": PHONE, "campaign_id": ID},
    optional={
        "variables": VARIABLES,
        "allow_dupplicate": BOOLEAN,
        "secondary_contacts": CONTACTS,
        "unknown": st.sampled_from(SCALARS),
    },
) | st.fixed_dictionaries(
    {}, optional={"phone_number": st.sampled_from(PHONES), "campaign_id": st.sampled_from(SCALARS)}
)
LEAD_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "campaign_id": ID,
        "phone_number": PHONE,
        "status": STATUS,
        "variables": VARIABLES,
        "unknown": st.sampled_from(SCALARS),
    },
)


@settings(max_examples=600, deadline=None)
@given(NEW_LEAD)
@example({"phone_number": "+14155550123", "campaign_id": f" +{TOP}\r", "allow_dupplicate": " 0"})
@example({"phone_number": "+14155550123", "campaign_id": 1, "secondary_contacts": {}})
@example({"phone_number": "+14155550123", "campaign_id": 1, "variables": {"k": TEXTS[1]}})
@example({"phone_number": "+14155550123", "campaign_id": 1, "variables": {"k": TEXTS[2]}})
@example(
    {"phone_number": "+14155550123", "campaign_id": 1, "variables": " ", "allow_dupplicate": ""}
)
def test_new_lead__the_document_allows_exactly_the_bodies_the_validator_takes(
    body: dict[str, Any],
) -> None:
    assert valid("NewLead", body) is taken(new_lead, body), body


@settings(max_examples=600, deadline=None)
@given(LEAD_CHANGES)
@example({})
@example({"status": " reached-max-retries\x0b", "variables": []})
@example({"variables": None})
def test_lead_changes__the_document_allows_exactly_the_bodies_the_validator_takes(
    body: dict[str, Any],
) -> None:
    assert valid("LeadChanges", body) is taken(lead_changes, body), body


def test_writes__the_documents_bounds_are_the_codes_constants() -> None:
    built = document("mock")
    schemas = built["components"]["schemas"]
    new = schemas["NewLead"]["properties"]
    assert schemas["NewLead"]["required"] == ["phone_number", "campaign_id"]
    listed = new["secondary_contacts"]["anyOf"][0]
    assert listed["maxItems"] == MAX_SECONDARY_CONTACTS
    assert new["campaign_id"]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": TOP}
    variables = schemas["Variables"]
    assert variables["maxProperties"] == MAX_VARIABLES
    assert variables["propertyNames"] == {"maxLength": MAX_KEY_LENGTH}
    levels = sorted(name for name in schemas if name.startswith("VariablesLevel"))
    assert len(levels) == MAX_DEPTH  # 2 .. MAX_DEPTH + 1, the variables object being 1
    kinds = [kind.get("type") for kind in schemas[level(MAX_DEPTH)]["anyOf"]]
    assert {"object", "array"} <= set(kinds)
    last = [kind.get("type") for kind in schemas[level(MAX_DEPTH + 1)]["anyOf"]]
    assert not {"object", "array"} & set(last)  # nothing deeper than MAX_DEPTH
    status = schemas["LeadChanges"]["properties"]["status"]["anyOf"][0]
    assert status["enum"] == list(UPDATABLE_STATUSES)
    campaign = schemas["CampaignDetails"]
    assert campaign["required"] == list(FIELDS)
    assert campaign["properties"]["allowed_days"]["items"]["enum"] == list(DAYS)
    item = built["paths"]["/api/user/leads/{lead_id}"]
    for method in ("put", "delete"):
        lead_id = item[method]["parameters"][0]
        assert lead_id["schema"] == {"type": "integer", "minimum": 1, "maximum": TOP}
        assert f"{MAX_KEY_LEADS:,}" in item[method]["responses"]["507"]["description"]
    answers = built["paths"]["/api/user/lead"]["post"]["responses"]
    assert str(Settings().max_body_bytes) in answers["413"]["description"]
    links = answers["200"]["links"]
    assert {link["operationId"] for link in links.values()} == {"update_lead", "delete_lead"}
    assert all(
        link["parameters"] == {"lead_id": "$response.body#/data/id"} for link in links.values()
    )
    phone = schemas["Lead"]["properties"]["phone_number"]["pattern"]
    assert phone == E164_PATTERN


WRITE_PATTERN = re.compile(prefer_pattern(None))


@settings(max_examples=500)
@given(st.lists(st.sampled_from(WORDS), max_size=12).map("".join))
@example("example=nope, code=404")
@example('example="anything at all"')
def test_prefer_pattern__for_writes_any_example_name_is_read_and_ignored(value: str) -> None:
    if "example" in value.lower() and "dynamic" in value.lower():
        return  # the rule the description states
    try:
        parse_prefer([value])
    except PreferError:
        assert not WRITE_PATTERN.fullmatch(value), value
    else:
        assert WRITE_PATTERN.fullmatch(value), value
