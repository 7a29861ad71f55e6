"""Mock mode as a client meets it: a real leads-proxy process, a real HTTP client."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from leads_proxy.fixtures.schema import EXAMPLE_LEAD, ErrorBody
from tests.support import AUTH, BUNDLED, Launch, Server, assert_valid_leads, clean_env

DEFAULT: list[dict[str, Any]] = json.loads((BUNDLED / "leads" / "default.json").read_text())
PATHS = ["/api/user/leads", "/leads"]


def get(server: Server, path: str = "/api/user/leads", **kwargs: Any) -> httpx.Response:
    """GET with a key; every body that comes back is checked against the schema."""
    headers = {**AUTH, **kwargs.pop("headers", {})}
    response = server.client.get(path, headers=headers, **kwargs)
    assert_valid_body(response)
    return response


def assert_valid_body(response: httpx.Response) -> None:
    if response.status_code == 200:
        assert_valid_leads(response.json())
    elif response.status_code >= 400:
        ErrorBody.model_validate(response.json(), strict=True)
    else:
        assert response.content == b""


def test_health__answers_ok_with_the_mode(server: Server) -> None:
    response = server.client.get("/_proxy/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mode": "mock"}


@pytest.mark.parametrize("path", PATHS)
def test_leads__default_answer_is_the_default_fixture_as_a_bare_array(
    server: Server, path: str
) -> None:
    response = get(server, path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DEFAULT
    assert_valid_leads(response.json())


def test_leads__both_paths_answer_the_same_bytes_and_etag(server: Server) -> None:
    real, alias = get(server, PATHS[0]), get(server, PATHS[1])
    assert real.content == alias.content
    assert real.headers["etag"] == alias.headers["etag"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": "Bearer"}, id="no-token"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic"),
        pytest.param({"Authorization": "1|abc"}, id="no-scheme"),
    ],
)
@pytest.mark.parametrize("query", ["", "?status=completed", "?per_page=5"])
def test_auth__without_a_bearer_token_answers_401_like_the_real_api(
    server: Server, path: str, headers: dict[str, str], query: str
) -> None:
    response = server.client.get(path + query, headers=headers)
    assert_valid_body(response)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


def test_auth__scheme_is_case_insensitive(server: Server) -> None:
    response = server.client.get("/leads", headers={"Authorization": "bearer 1|abc"})
    assert response.status_code == 200


def test_auth__mock_auth_off_lets_requests_without_a_key_in(launch: Launch, tmp_path: Path) -> None:
    running = launch(env=clean_env(LEADS_PROXY_MOCK_AUTH="off"))
    for path in PATHS:
        assert running.client.get(path).status_code == 200
        assert running.client.get(path + "?status=created").status_code == 200


# --- filters ------------------------------------------------------------------


def _expected(**rule: Any) -> list[dict[str, Any]]:
    """The filter's meaning, written out independently of app/query.py."""
    leads = DEFAULT
    if "status" in rule:
        leads = [lead for lead in leads if lead["status"] == rule["status"]]
    if "campaign_id" in rule:
        leads = [lead for lead in leads if lead["campaign_id"] == rule["campaign_id"]]
    if "phone" in rule:
        leads = [lead for lead in leads if rule["phone"] in lead["phone_number"]]
    if "after" in rule:
        leads = [lead for lead in leads if lead["created_at"][:10] >= rule["after"]]
    if "before" in rule:
        leads = [lead for lead in leads if lead["created_at"][:10] <= rule["before"]]
    return leads


FIRST = DEFAULT[0]
DAYS = sorted(lead["created_at"][:10] for lead in DEFAULT)


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        pytest.param({"status": "completed"}, {"status": "completed"}, id="status"),
        pytest.param({"status": "no-such-status"}, {"status": "no-such-status"}, id="status-none"),
        pytest.param({"campaign_id": "2"}, {"campaign_id": 2}, id="campaign"),
        pytest.param({"campaign_id": "999"}, {"campaign_id": 999}, id="campaign-none"),
        pytest.param(
            {"phone_number": FIRST["phone_number"]}, {"phone": FIRST["phone_number"]}, id="phone"
        ),
        pytest.param(
            {"phone_number": FIRST["phone_number"][1:5]},
            {"phone": FIRST["phone_number"][1:5]},
            id="phone-partial",
        ),
        pytest.param({"date_from": DAYS[6]}, {"after": DAYS[6]}, id="date-from"),
        pytest.param({"date_to": DAYS[5]}, {"before": DAYS[5]}, id="date-to"),
        pytest.param(
            {"date_from": DAYS[2], "date_to": DAYS[8]},
            {"after": DAYS[2], "before": DAYS[8]},
            id="date-range",
        ),
        pytest.param(
            {"status": "completed", "campaign_id": "3"},
            {"status": "completed", "campaign_id": 3},
            id="status-and-campaign",
        ),
        pytest.param({"status": "", "unknown": "x"}, {}, id="empty-and-unknown-ignored"),
    ],
)
def test_filters__keep_exactly_the_matching_leads(
    server: Server, params: dict[str, str], rule: dict[str, Any]
) -> None:
    response = get(server, params=params)
    assert response.status_code == 200
    assert response.json() == _expected(**rule)
    assert_valid_leads(response.json())
    assert response.headers["etag"]


def test_filters__an_unencoded_plus_in_phone_number_still_matches(server: Server) -> None:
    phone = FIRST["phone_number"]
    # A client that forgets to percent-encode sends '+', which decodes as a space.
    response = get(server, f"/leads?phone_number={phone}")
    assert response.json() == _expected(phone=phone[1:])
    assert FIRST in response.json()


def test_filters__the_test_table_covers_real_matches() -> None:
    # Guards the table above: a filter that matches nothing proves little.
    assert _expected(status="completed")
    assert _expected(campaign_id=2)
    assert 0 < len(_expected(after=DAYS[6])) < len(DEFAULT)


# --- pagination -----------------------------------------------------------------


def _page(server: Server, **params: str) -> dict[str, Any]:
    response = get(server, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert_valid_leads(body)
    return body


def test_pagination__page_or_per_page_switches_to_the_laravel_paginator(server: Server) -> None:
    body = _page(server, page="1")
    assert body["per_page"] == 15
    assert body["total"] == len(DEFAULT)
    assert body["data"] == DEFAULT
    assert (body["current_page"], body["last_page"], body["from"], body["to"]) == (1, 1, 1, 12)
    assert body["next_page_url"] is None
    assert body["prev_page_url"] is None
    assert body["path"] == f"{server.url}/api/user/leads"


def test_pagination__middle_page_links_point_back_at_this_server(server: Server) -> None:
    body = _page(server, per_page="5", page="2", status="")
    assert body["data"] == DEFAULT[5:10]
    assert (body["from"], body["to"], body["last_page"]) == (6, 10, 3)
    for key, page in [("first_page_url", 1), ("prev_page_url", 1), ("next_page_url", 3)]:
        url = urlsplit(body[key])
        assert f"{url.scheme}://{url.netloc}{url.path}" == f"{server.url}/api/user/leads"
        assert parse_qs(url.query, keep_blank_values=True) == {
            "per_page": ["5"],
            "status": [""],
            "page": [str(page)],
        }
    labels = [link["label"] for link in body["links"]]
    assert labels == ["&laquo; Previous", "1", "2", "3", "Next &raquo;"]
    assert [link["active"] for link in body["links"]] == [False, False, True, False, False]


def test_pagination__following_next_page_url_walks_every_lead_once(server: Server) -> None:
    seen: list[dict[str, Any]] = []
    url: str | None = f"{server.url}/leads?per_page=5&page=1"
    while url:
        body = get(server, url).json()
        seen += body["data"]
        url = body["next_page_url"]
    assert seen == DEFAULT


def test_pagination__last_page_is_partial(server: Server) -> None:
    body = _page(server, per_page="5", page="3")
    assert body["data"] == DEFAULT[10:]
    assert (body["from"], body["to"], body["next_page_url"]) == (11, 12, None)


def test_pagination__page_past_the_end_is_empty_not_an_error(server: Server) -> None:
    body = _page(server, per_page="5", page="9")
    assert body["data"] == []
    assert (body["from"], body["to"], body["current_page"], body["last_page"]) == (
        None,
        None,
        9,
        3,
    )
    assert body["next_page_url"] is None
    assert body["prev_page_url"].endswith("page=8")


def test_pagination__combines_with_filters(server: Server) -> None:
    completed = _expected(status="completed")
    assert len(completed) >= 2  # so that there is a next page to point at
    body = _page(server, per_page="1", status="completed")
    assert body["total"] == len(completed)
    assert body["data"] == completed[:1]
    assert "status=completed" in body["next_page_url"]


def test_pagination__empty_result_still_has_one_page(server: Server) -> None:
    body = _page(server, per_page="5", status="no-such-status")
    assert (body["total"], body["last_page"], body["data"]) == (0, 1, [])


# --- 422 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("per_page=0", "per_page", "The per page field must be between 1 and 100."),
        ("per_page=101", "per_page", "The per page field must be between 1 and 100."),
        ("per_page=ten", "per_page", "The per page field must be an integer."),
        ("per_page=1.5", "per_page", "The per page field must be an integer."),
        ("page=0", "page", "The page field must be at least 1."),
        ("page=-3", "page", "The page field must be at least 1."),
        ("page=--3", "page", "The page field must be an integer."),
        ("page=99999999999999999999999", "page", "The page field must be an integer."),
        ("campaign_id=abc", "campaign_id", "The campaign id field must be an integer."),
        ("date_from=2025-13-01", "date_from", "The date from field must match the format Y-m-d."),
        ("date_from=20250101", "date_from", "The date from field must match the format Y-m-d."),
        ("date_to=yesterday", "date_to", "The date to field must match the format Y-m-d."),
        (
            "date_from=2025-06-02&date_to=2025-06-01",
            "date_to",
            "The date to field must be a date after or equal to date from.",
        ),
    ],
)
def test_validation__bad_values_answer_422_in_laravel_shape(
    server: Server, query: str, field: str, message: str
) -> None:
    response = get(server, f"/leads?{query}")
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}


def test_validation__several_bad_values_are_all_reported(server: Server) -> None:
    response = get(server, "/leads?per_page=0&page=x&campaign_id=y")
    body = response.json()
    assert response.status_code == 422
    assert set(body["errors"]) == {"per_page", "page", "campaign_id"}
    assert body["message"].endswith("(and 2 more errors)")


# --- ETag and 304 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["", "?status=completed", "?per_page=5&page=2"], ids=["default", "filtered", "page"]
)
def test_etag__if_none_match_gets_304_without_a_body(server: Server, query: str) -> None:
    first = get(server, f"/leads{query}")
    etag = first.headers["etag"]
    for header in [etag, f"W/{etag}", f'"other", {etag}', "*"]:
        again = get(server, f"/leads{query}", headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
    changed = get(server, f"/leads{query}", headers={"If-None-Match": '"stale"'})
    assert changed.status_code == 200
    assert changed.content == first.content


def test_etag__differs_between_different_answers(server: Server) -> None:
    tags = {
        get(server, "/leads", params=params).headers["etag"]
        for params in [{}, {"status": "completed"}, {"per_page": "5"}, {"per_page": "6"}]
    }
    assert len(tags) == 4


# --- Prefer scenarios -----------------------------------------------------------


def prefer(server: Server, value: str, path: str = "/leads") -> httpx.Response:
    return get(server, path, headers={"Prefer": value})


def test_prefer__example_picks_a_named_fixture(server: Server) -> None:
    assert prefer(server, "example=empty").json() == []
    documented = prefer(server, "example=documented")
    assert documented.json() == [EXAMPLE_LEAD]
    assert documented.headers["preference-applied"] == "example=documented"
    assert prefer(server, "example=default").content == get(server).content


def test_prefer__example_combines_with_filters_and_pages(server: Server) -> None:
    response = get(server, "/leads?per_page=1", headers={"Prefer": "example=documented"})
    assert response.json()["data"] == [EXAMPLE_LEAD]


def test_prefer__large_example_is_generated_and_valid(server: Server) -> None:
    response = prefer(server, "example=large")
    assert response.status_code == 200
    leads = response.json()
    assert len(leads) == 10_000
    assert_valid_leads(leads)
    assert prefer(server, "example=large").headers["etag"] == response.headers["etag"]


def test_prefer__unknown_example_is_a_404_listing_the_known_ones(server: Server) -> None:
    response = prefer(server, "example=nope")
    assert response.status_code == 404
    body = response.json()
    assert body["examples"] == ["default", "documented", "empty", "large"]
    assert "nope" in body["message"]
    assert "default, documented, empty, large" in body["message"]


@pytest.mark.parametrize(
    ("code", "body"),
    [
        (401, {"message": "Unauthenticated."}),
        (404, {"message": "Lead not found"}),
        (429, {"message": "Too Many Attempts."}),
        (500, {"message": "Server Error"}),
        (503, {"message": "Service Unavailable"}),
    ],
)
def test_prefer__code_answers_what_the_real_api_would(
    server: Server, code: int, body: dict[str, str]
) -> None:
    response = prefer(server, f"code={code}", path="/api/user/leads")
    assert response.status_code == code
    assert response.json() == body


def test_prefer__code_422_has_laravel_errors(server: Server) -> None:
    response = prefer(server, "code=422")
    assert response.status_code == 422
    assert set(response.json()) == {"message", "errors"}


def test_prefer__code_429_says_when_to_retry(server: Server) -> None:
    response = prefer(server, "code=429")
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["x-ratelimit-remaining"] == "0"


def test_prefer__code_200_is_the_normal_answer(server: Server) -> None:
    assert prefer(server, "code=200").json() == DEFAULT


def test_prefer__dynamic_with_a_seed_is_deterministic_and_valid(server: Server) -> None:
    first = prefer(server, "dynamic=true; seed=42")
    second = prefer(server, "dynamic=true, seed=42")
    other = prefer(server, "dynamic=true, seed=43")
    assert first.status_code == 200
    assert first.content == second.content != other.content
    assert len(first.json()) == 20
    assert_valid_leads(first.json())
    assert first.headers["preference-applied"] == "dynamic=true, count=20, seed=42"


def test_prefer__dynamic_without_a_seed_tells_the_seed_to_replay_it(server: Server) -> None:
    first = prefer(server, "dynamic=true, count=7")
    seed = first.headers["preference-applied"].rsplit("seed=", 1)[1]
    replay = prefer(server, f"dynamic=true, count=7, seed={seed}")
    assert len(first.json()) == 7
    assert replay.content == first.content


def test_prefer__dynamic_without_a_seed_walks_one_set_per_key_and_filters(
    server: Server,
) -> None:
    """next_page_url carries no header: each page of a walk must come from one set."""
    wanted = {"Prefer": "dynamic=true, count=35"}
    url: str | None = "/api/user/leads?per_page=10&status=completed&page=1"
    seeds, ids = set(), []
    while url is not None:
        page = get(server, url, headers=wanted)
        seeds.add(page.headers["preference-applied"])
        ids += [lead["id"] for lead in page.json()["data"]]
        url = page.json()["next_page_url"]
    assert len(seeds) == 1
    (applied,) = seeds
    seeded = {"Prefer": applied}
    whole = get(server, "/api/user/leads?status=completed", headers=seeded).json()
    assert ids == [lead["id"] for lead in whole]

    other_key = {"Authorization": "Bearer 2|someone-else", **wanted}
    other = get(server, "/api/user/leads?per_page=10&status=completed", headers=other_key)
    assert other.headers["preference-applied"] != applied
    other_filter = get(server, "/api/user/leads?per_page=10&status=created", headers=wanted)
    assert other_filter.headers["preference-applied"] != applied


def test_prefer__dynamic_leads_can_be_filtered_and_paged(server: Server) -> None:
    response = get(
        server, "/leads?per_page=10&page=2", headers={"Prefer": "dynamic=true, seed=1, count=35"}
    )
    body = response.json()
    assert (body["total"], body["last_page"], len(body["data"])) == (35, 4, 10)
    assert_valid_leads(body)


def test_prefer__delay_adds_latency(server: Server) -> None:
    started = time.monotonic()
    response = prefer(server, "delay=300")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3
    assert response.json() == DEFAULT


def test_prefer__several_headers_and_unknown_preferences(server: Server) -> None:
    response = server.client.get(
        "/leads",
        headers=[("Prefer", "respond-async"), ("Prefer", "example=empty"), *AUTH.items()],
    )
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("code=418", "valid codes: 200, 401, 404, 422, 429, 500, 503"),
        ("code=abc", "code must be a whole number"),
        ("delay=-5", "delay must be a whole number from 0 to 60000"),
        ("delay=999999", "delay must be a whole number from 0 to 60000"),
        ("dynamic=maybe", "dynamic must be one of true, false"),
        ("dynamic=true, count=0", "count must be a whole number from 1 to 10000"),
        ("dynamic=true, example=empty", "cannot be combined"),
    ],
)
def test_prefer__bad_values_answer_400_saying_what_is_valid(
    server: Server, value: str, says: str
) -> None:
    response = prefer(server, value)
    assert response.status_code == 400
    assert says in response.json()["message"]


# --- the rest of the surface ------------------------------------------------------


def test_openapi__documents_the_leads_endpoint_with_schema_and_example(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()
    operation = spec["paths"]["/api/user/leads"]["get"]
    assert operation["summary"] == "List leads"
    assert operation["description"] == "List all leads for the authenticated user."
    names = {parameter["name"] for parameter in operation["parameters"]}
    filters = {"status", "campaign_id", "phone_number", "date_from", "date_to"}
    assert names == filters | {"page", "per_page", "Prefer", "If-None-Match"}
    ok = operation["responses"]["200"]["content"]["application/json"]
    assert ok["example"] == [EXAMPLE_LEAD]
    lead = spec["components"]["schemas"]["Lead"]
    assert set(lead["required"]) >= {"id", "phone_number", "campaign", "secondary_contacts"}
    assert "bearer" in json.dumps(spec["components"]["securitySchemes"]).lower()


def test_docs__serves_the_interactive_page(server: Server) -> None:
    response = server.client.get("/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()


def test_limits__a_query_string_over_4_kib_answers_414(server: Server) -> None:
    response = get(server, "/leads?status=" + "x" * 5000)
    assert response.status_code == 414
    assert "too long" in response.json()["message"]


@pytest.mark.parametrize("size", [20_000, 60_000])
def test_limits__huge_request_lines_are_refused_and_the_server_lives_on(
    server: Server, size: int
) -> None:
    try:
        response = get(server, "/leads?status=" + "x" * size)
        assert 400 <= response.status_code < 500
    except httpx.RemoteProtocolError:
        pass  # refused at the HTTP layer: the connection is closed, no answer
    assert get(server).status_code == 200
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(
    "query",
    ["status=%ff%fe", "phone_number=%", "campaign_id=%00", "page=%F0%9F%98%80", "=&&=x&status"],
)
def test_limits__odd_encodings_never_crash_the_server(server: Server, query: str) -> None:
    response = get(server, f"/leads?{query}")
    assert response.status_code in {200, 422}
    assert "Traceback" not in server.log()
