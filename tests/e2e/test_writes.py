"""Mock mode's writes through a real server: create, list, update, delete, per key.

Each test starts its own server (writes change what a key lists), but the bad
writes share one, each as a key of its own. A test talks to it as an app does:
JSON bodies, a bearer key, the listing read back bare, paged and filtered.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    BUNDLED,
    Launch,
    Server,
    assert_valid_leads,
    key_header,
    refused_at_start,
    shown_fingerprint,
    start_server,
)

A, B = key_header("1|writer-a"), key_header("2|writer-b")
DEFAULT = json.loads((BUNDLED / "leads" / "default.json").read_text())
TOP_ID = max(
    [lead["id"] for lead in DEFAULT]
    + [contact["id"] for lead in DEFAULT for contact in lead["secondary_contacts"]]
)
NEW_LEAD = {
    "phone_number": " +971 50 123 4567 ",
    "campaign_id": 2,
    "variables": {"customer_name": "Mona", "email": "mona@example.com"},
    "secondary_contacts": [{"phone_number": "+1 415 555 2671", "variables": {"role": "spouse"}}],
}


def listing(server: Server, key: dict[str, str], query: str = "") -> Any:
    answer = server.client.get(f"/api/user/leads{query}", headers=key)
    assert answer.status_code == 200, answer.text
    assert_valid_leads(answer.json())
    return answer.json()


def create(server: Server, key: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    answer = server.client.post("/api/user/lead", headers=key, json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Lead created successfully"
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_writes__create_list_update_delete_for_two_keys(launch: Launch) -> None:
    server = launch()
    before = server.client.get("/api/user/leads", headers=A)
    made = create(server, A, NEW_LEAD)

    # The lead in the listing's shape, numbers in E.164, ids above every id the key had.
    assert made["id"] == TOP_ID + 1
    assert made["campaign_id"] == 2
    assert made["phone_number"] == "+971501234567"
    assert made["variables"] == NEW_LEAD["variables"]
    assert made["status"] == "created"
    assert made["created_at"] == made["updated_at"]
    assert made["campaign"] == {"id": 2, "name": DEFAULT_CAMPAIGNS[2]}
    (contact,) = made["secondary_contacts"]
    assert contact["id"] == TOP_ID + 2
    assert contact["phone_number"] == "+14155552671"
    assert contact["variables"] == {"role": "spouse"}
    assert contact["status"] == "created"
    assert_valid_leads([made])

    # A lists it, bare and paged, filtered by status, campaign and phone; B never sees it.
    assert listing(server, A)[-1] == made
    assert len(listing(server, A)) == len(DEFAULT) + 1
    assert listing(server, B) == DEFAULT
    page = listing(server, A, "?per_page=5&page=3")
    assert page["total"] == len(DEFAULT) + 1
    assert page["data"][-1] == made
    assert made in listing(server, A, "?status=created&campaign_id=2")
    assert listing(server, A, "?phone_number=50123") == [made]
    assert listing(server, B, "?phone_number=50123") == []
    assert server.client.get("/api/user/leads", headers=A).headers["x-mock-source"] == "state"
    assert server.client.get("/api/user/leads", headers=B).headers["x-mock-source"] == "emulated"

    # An ETag from before the write is no longer the listing's.
    etag = before.headers["etag"]
    again = server.client.get("/api/user/leads", headers={**A, "If-None-Match": etag})
    assert again.status_code == 200
    zipped = server.client.get("/api/user/leads", headers={**A, "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"  # httpx has decoded it
    assert zipped.json() == listing(server, A)
    unchanged = server.client.get("/api/user/leads", headers={**B, "If-None-Match": etag})
    assert unchanged.status_code == 304

    # Update: only the fields given; variables merged.
    answer = server.client.put(
        f"/api/user/leads/{made['id']}",
        headers=A,
        json={"status": "completed", "variables": {"email": "new@example.com", "score": 7}},
    )
    assert answer.status_code == 200
    assert answer.json() == {"message": "Lead updated successfully"}
    (updated,) = listing(server, A, "?status=completed&phone_number=50123")
    assert updated["variables"] == {"customer_name": "Mona", "email": "new@example.com", "score": 7}
    assert updated["phone_number"] == made["phone_number"]
    assert updated["campaign"] == made["campaign"]
    assert updated["updated_at"] >= made["updated_at"]
    moved = server.client.put(
        f"/leads/{made['id']}", headers=A, json={"campaign_id": "3", "phone_number": "+14155550123"}
    )
    assert moved.status_code == 200
    (updated,) = listing(server, A, "?campaign_id=3&phone_number=4155550123")
    assert updated["campaign"] == {"id": 3, "name": DEFAULT_CAMPAIGNS[3]}

    # A default lead is the key's to change too; the other key keeps it as it was.
    first = DEFAULT[0]["id"]
    assert server.client.put(f"/api/user/leads/{first}", headers=A, json={}).status_code == 200
    assert server.client.delete(f"/api/user/leads/{first}", headers=A).status_code == 200
    assert first not in [lead["id"] for lead in listing(server, A)]
    assert listing(server, B)[0] == DEFAULT[0]

    # Delete is for good; the id is never given again.
    gone = server.client.delete(f"/api/user/leads/{made['id']}", headers=A)
    assert gone.json() == {"message": "Lead deleted successfully"}
    assert server.client.delete(f"/api/user/leads/{made['id']}", headers=A).status_code == 404
    assert listing(server, A, "?phone_number=50123") == []
    assert create(server, A, NEW_LEAD)["id"] == TOP_ID + 3


DEFAULT_CAMPAIGNS = {lead["campaign_id"]: lead["campaign"]["name"] for lead in DEFAULT}


def test_writes__the_campaigns_list_is_ready_like_the_listing(launch: Launch) -> None:
    server = launch()
    answer = server.client.get("/api/user/campaigns", headers=A)
    assert answer.status_code == 200
    campaigns = answer.json()
    assert [(c["id"], c["name"]) for c in campaigns] == sorted(DEFAULT_CAMPAIGNS.items())
    assert campaigns[0]["status"] == "active"
    assert campaigns[0]["max_calls_in_parallel"] == 3
    etag = answer.headers["etag"]
    assert server.client.get("/campaigns", headers={**A, "If-None-Match": etag}).status_code == 304
    assert server.client.head("/api/user/campaigns", headers=A).content == b""
    assert server.client.get("/api/user/campaigns").status_code == 401


def test_writes__twenty_clients_make_a_thousand_leads_and_none_is_lost(launch: Launch) -> None:
    for workers in ("1", "2"):
        server = launch("--workers", workers)

        def make(number: int, server: Server = server) -> int:
            phone = f"+1415555{number:04d}"
            with httpx.Client(base_url=server.url, timeout=30) as client:
                answer = client.post(
                    "/api/user/lead", headers=A, json={"phone_number": phone, "campaign_id": 1}
                )
                assert answer.status_code == 200, answer.text
                lead_id: int = answer.json()["data"]["id"]
                if number % 25 == 0:  # the key's next listing has it, whichever worker answers
                    listed = client.get("/api/user/leads", headers=A).json()
                    assert lead_id in {lead["id"] for lead in listed}
                return lead_id

        with ThreadPoolExecutor(20) as pool:
            ids = list(pool.map(make, range(1000)))
        assert len(set(ids)) == 1000
        assert min(ids) > TOP_ID
        listed = listing(server, A)
        assert len(listed) == len(DEFAULT) + 1000
        assert {lead["id"] for lead in listed} >= set(ids)
        assert listing(server, B) == DEFAULT
        server.stop()


def test_writes__a_state_file_survives_a_restart_and_the_default_does_not(
    launch: Launch, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    server = launch("--state-file", str(state))
    made = create(server, A, NEW_LEAD)
    server.stop()
    assert state.stat().st_mode & 0o777 == 0o600  # phone numbers: this user's only
    assert b"1|writer-a" not in state.read_bytes()  # keys are stored as digests
    server = launch("--state-file", str(state))
    assert listing(server, A)[-1] == made
    server.stop()
    server = launch()
    create(server, A, NEW_LEAD)
    server.stop()
    server = launch()
    assert listing(server, A) == DEFAULT


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param(
            b"\x00" * 100 + b"garbage" * 200, "not a leads-proxy state file", id="corrupt"
        ),
        pytest.param(None, "another program", id="foreign-sqlite"),
        pytest.param("tables", "not a leads-proxy state file", id="its-marks-but-no-tables"),
        pytest.param("format-1", "format 1", id="an-older-format"),
    ],
)
def test_writes__a_corrupt_or_foreign_state_file_is_refused_at_start(
    tmp_path: Path, content: bytes | str | None, says: str
) -> None:
    state = tmp_path / "state.db"
    if content is None:
        with sqlite3.connect(state) as db:
            db.execute("CREATE TABLE notes (text)")
    elif isinstance(content, str):  # a state file's marks, without its tables
        with sqlite3.connect(state) as db:
            db.execute("PRAGMA application_id = 1280331091")
            db.execute(f"PRAGMA user_version = {1 if content == 'format-1' else 2}")
    else:
        state.write_bytes(content)
    before = state.read_bytes()
    line = refused_at_start("--state-file", str(state))
    assert str(state) in line
    assert says in line
    assert state.read_bytes() == before  # never changed


def test_writes__deleting_the_state_forgets_every_key_or_one(launch: Launch) -> None:
    server = launch("--admin-token", "admin-token-1")
    create(server, A, NEW_LEAD)
    create(server, B, NEW_LEAD)
    refused = server.client.delete("/_proxy/state")
    assert refused.status_code == 401
    admin = key_header("admin-token-1")
    one = server.client.delete(
        "/_proxy/state", headers=admin, params={"key": shown_fingerprint(A["Authorization"])}
    )
    assert one.status_code == 200
    assert one.json()["forgotten"]["keys"] == 1
    assert listing(server, A) == DEFAULT
    assert len(listing(server, B)) == len(DEFAULT) + 1
    every = server.client.delete("/_proxy/state", headers=admin)
    assert every.json()["forgotten"] == {"keys": 1, "leads": 1}
    assert listing(server, B) == DEFAULT
    assert create(server, B, NEW_LEAD)["id"] == TOP_ID + 1  # from the fixtures again
    bad = server.client.delete("/_proxy/state", headers=admin, params={"key": "1|writer-a"})
    assert bad.status_code == 422


def test_writes__auth_rate_limit_and_scenarios_apply_as_to_reads(launch: Launch) -> None:
    server = launch("--mock-rate-limit", "4/minute")
    assert server.client.post("/api/user/lead", json=NEW_LEAD).status_code == 401
    scenario = server.client.post(
        "/api/user/lead", headers={**A, "Prefer": "code=500"}, json=NEW_LEAD
    )
    assert scenario.status_code == 500
    assert scenario.json() == {"message": "Server Error"}
    create(server, A, NEW_LEAD)
    listing(server, A)
    assert server.client.delete("/api/user/leads/999", headers=A).status_code == 404
    throttled = server.client.post("/api/user/lead", headers=A, json=NEW_LEAD)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"]
    assert len(listing(server, B)) == len(DEFAULT)  # B's own window
    # Only the write that was let through changed anything.
    assert server.client.get("/api/user/leads", headers=A).status_code == 429


def test_writes__examples_and_generated_sets_stay_as_they_are(launch: Launch) -> None:
    server = launch()
    create(server, A, NEW_LEAD)
    empty = server.client.get("/api/user/leads", headers={**A, "Prefer": "example=empty"})
    assert empty.json() == []
    assert empty.headers["x-mock-source"] == "emulated"
    made = server.client.get("/api/user/leads", headers={**A, "Prefer": "dynamic=true, count=3"})
    assert len(made.json()) == 3


def test_writes__the_surface_cors_methods_and_journal(launch: Launch) -> None:
    server = launch()
    origin = {"Origin": "http://localhost:5173"}
    for method in ("POST", "PUT", "DELETE"):
        preflight = server.client.options(
            "/api/user/leads/1",
            headers={**origin, "Access-Control-Request-Method": method,
                     "Access-Control-Request-Headers": "authorization, content-type"},
        )  # fmt: skip
        assert preflight.status_code == 204
        assert method in preflight.headers["access-control-allow-methods"]
    made = server.client.post("/api/user/lead", headers={**A, **origin}, json=NEW_LEAD)
    assert made.headers["access-control-allow-origin"] == "*"
    wrong = server.client.get("/api/user/leads/5", headers=A)
    assert wrong.status_code == 405
    assert wrong.json()["message"] == (
        "The GET method is not supported for route api/user/leads/5. "
        "Supported methods: DELETE, PUT."
    )
    assert wrong.headers["allow"] == "DELETE, PUT"
    (entry,) = server.client.get("/_proxy/requests", params={"path": "/api/user/lead"}).json()[
        "requests"
    ]
    assert entry["method"] == "POST"
    assert entry["status"] == 200
    assert entry["key"] == shown_fingerprint(A["Authorization"])


BAD_WRITES = [
    pytest.param("POST", "/api/user/lead", b"{bad", 400, "not JSON", id="not-json"),
    pytest.param("POST", "/api/user/lead", b"[1, 2]", 422, "not an object", id="an-array"),
    pytest.param("POST", "/api/user/lead", b"[" * 4000, 400, "nested too deeply",
                 id="nested-too-deep"),
    pytest.param("POST", "/api/user/lead", b'{"a": "\\ud800"}', 400, "surrogate", id="surrogate"),
    pytest.param("POST", "/api/user/lead", b'{"a": 1e400}', 400, "too large", id="infinite"),
    pytest.param(
        "POST", "/api/user/lead", b'{"phone_number": "+971501234567", "campaign_id": 1, '
        b'"variables": ' + b'{"a": ' * 20 + b"1" + b"}" * 20 + b"}", 422, "nested", id="deep-vars",
    ),
    pytest.param("POST", "/api/user/lead", b"{}", 422, "phone number field is required",
                 id="missing-fields"),
    pytest.param("POST", "/api/user/lead", b'{"phone_number": 5, "campaign_id": "x"}', 422,
                 "must be a string", id="ill-typed"),
    pytest.param("POST", "/api/user/lead", b'{"phone_number": "0501234567", "campaign_id": 1}',
                 422, "Invalid phone number", id="invalid-phone"),
    pytest.param("POST", "/api/user/lead", b'{"phone_number": "+971501234567", "campaign_id": 99}',
                 404, "Campaign not found", id="unknown-campaign"),
    pytest.param("POST", "/api/user/lead", b'{"phone_number": "+971501234567", "campaign_id": 1, '
                 b'"secondary_contacts": [{"phone_number": "nope"}]}', 422,
                 "secondary_contacts.0.phone_number", id="invalid-contact"),
    pytest.param("PUT", "/api/user/leads/1", b'{"status": "scheduled"}', 422,
                 "The selected status is invalid.", id="status-not-settable"),
    pytest.param("PUT", "/api/user/leads/1", b'{"campaign_id": 99}', 404, "Campaign not found",
                 id="update-unknown-campaign"),
    pytest.param("PUT", "/api/user/leads/1", b'{"phone_number": "+1"}', 422,
                 "Invalid phone number", id="update-invalid-phone"),
    pytest.param("PUT", "/api/user/leads/99999", b"{}", 404, "Lead not found", id="unknown-lead"),
    pytest.param("PUT", "/api/user/leads/1e3", b"{}", 404, "Lead not found", id="non-numeric-id"),
    pytest.param("DELETE", "/api/user/leads/0", b"", 404, "Lead not found", id="id-zero"),
    pytest.param("DELETE", "/api/user/leads/" + "9" * 30, b"", 404, "Lead not found",
                 id="id-too-long"),
    pytest.param("POST", "/api/user/lead", b'{"x": "' + b"a" * 5000 + b'"}', 413,
                 "over 4096 bytes", id="over-the-body-limit"),
]  # fmt: skip


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory, http_server: str) -> Iterator[Server]:
    """One server for every bad write: each row writes (or not) as a key of its own."""
    folder = tmp_path_factory.mktemp("bounded")
    running = start_server(folder, "--max-body-bytes", "4096", http_server=http_server)
    yield running
    running.stop()


@pytest.mark.parametrize(("method", "path", "body", "status", "says"), BAD_WRITES)
def test_writes__bad_input_gets_a_clear_json_error_and_changes_nothing(  # noqa: PLR0917
    bounded: Server,
    request: pytest.FixtureRequest,
    method: str,
    path: str,
    body: bytes,
    status: int,
    says: str,
) -> None:
    key = key_header(f"3|{request.node.callspec.id}")
    before = bounded.client.get("/api/user/leads", headers=key).headers["etag"]
    answer = bounded.client.request(
        method, path, headers={**key, "Content-Type": "application/json"}, content=body
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert says in json.dumps(answer.json())
    assert bounded.client.get("/api/user/leads", headers=key).headers["etag"] == before
    assert bounded.client.get("/api/user/leads", headers=key).json() == DEFAULT
    assert "Traceback" not in bounded.log()


def test_writes__the_same_number_twice_in_a_campaign_needs_allow_dupplicate(
    launch: Launch,
) -> None:
    server = launch()
    create(server, A, NEW_LEAD)
    again = server.client.post("/api/user/lead", headers=A, json=NEW_LEAD)
    assert again.status_code == 422
    assert "allow_dupplicate" in again.json()["message"]
    existing = {
        "phone_number": DEFAULT[0]["phone_number"],
        "campaign_id": DEFAULT[0]["campaign_id"],
    }
    assert server.client.post("/api/user/lead", headers=A, json=existing).status_code == 422
    create(server, A, {**NEW_LEAD, "allow_dupplicate": True})
    create(server, A, {**NEW_LEAD, "campaign_id": 1})  # another campaign
    create(server, B, NEW_LEAD)  # another key
    assert len(listing(server, A, "?phone_number=501234567")) == 3
