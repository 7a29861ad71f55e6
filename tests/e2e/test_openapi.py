"""The OpenAPI document says exactly what is served: schemathesis (every check, every
phase) against a real mock-mode server, and the document's claims read directly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, Server

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFIG = ROOT / "tests" / "schemathesis" / "schemathesis.toml"


def test_schemathesis__finds_nothing_in_mock_mode(server: Server) -> None:
    run = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(CONFIG), "--no-color",
         "run", f"{server.url}/openapi.json", "--workers", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "No issues found" in run.stdout
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout or f"✅  {phase}" in run.stdout, run.stdout


def test_document__types_and_ranges_are_those_the_server_checks(server: Server) -> None:
    document = server.client.get("/openapi.json").json()
    operation = document["paths"]["/api/user/leads"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    per_page = parameters["per_page"]["schema"]["anyOf"][0]
    assert per_page == {"type": "integer", "minimum": 1, "maximum": 100}
    assert parameters["page"]["schema"]["anyOf"][0]["minimum"] == 1
    assert parameters["campaign_id"]["schema"]["anyOf"][0]["type"] == "integer"
    assert parameters["date_from"]["schema"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert "pattern" in parameters["Prefer"]["schema"]
    assert set(operation["responses"]) >= {
        "200", "304", "400", "401", "404", "414", "422", "429", "500", "503"
    }  # fmt: skip
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    lead = document["components"]["schemas"]["Lead"]["properties"]
    assert lead["phone_number"]["pattern"] == r"^\+[1-9][0-9]{6,14}$"
    assert lead["created_at"]["pattern"].startswith("^[0-9]{4}-")
    # What the document calls invalid, the server refuses; what it allows, it serves.
    auth = {"Authorization": "Bearer 1|doc-key"}
    assert server.client.get("/api/user/leads?per_page=abc", headers=auth).status_code == 422
    assert server.client.get("/api/user/leads?per_page=&nope=1", headers=auth).status_code == 200
