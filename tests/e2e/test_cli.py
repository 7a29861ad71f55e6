"""The command line as a person meets it: exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from tests.support import (
    AUTH,
    BUNDLED,
    LEADS_PROXY,
    ROOT,
    Launch,
    assert_valid_leads,
    clean_env,
    free_port,
)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEADS_PROXY, *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        timeout=30,
        check=False,
        cwd=ROOT,
    )


def nothing_listens_on(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def write(fixtures_dir: Path, name: str, content: Any) -> Path:
    path = fixtures_dir / "leads" / f"{name}.json"
    text = content if isinstance(content, str) else json.dumps(content, indent=2)
    path.write_text(text)
    return path


def lead(**changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(EXAMPLE_LEAD)), **changes}


# --- help -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        ([], ["serve", "fixtures"]),
        (
            ["serve"],
            [
                "--mode",
                "LEADS_PROXY_MODE",
                "mock|proxy|record",
                "LEADS_PROXY_HOST",
                "LEADS_PROXY_PORT",
                "--fixtures",
                "LEADS_PROXY_FIXTURES",
                "--mock-auth",
                "LEADS_PROXY_MOCK_AUTH",
                "on|off",
                "LEADS_PROXY_LOG_LEVEL",
                "LEADS_PROXY_ACCESS_LOG",
                "LEADS_PROXY_UPSTREAM_URL",
                "LEADS_PROXY_TTL",
                "LEADS_PROXY_STALE_WHILE_REVALIDATE",
                "LEADS_PROXY_STALE_IF_ERROR",
                "LEADS_PROXY_MAX_ENTRIES",
                "LEADS_PROXY_MAX_BYTES",
                "LEADS_PROXY_MAX_ENTRY_BYTES",
                "LEADS_PROXY_UPSTREAM_MAX_RPS",
                "LEADS_PROXY_UPSTREAM_TIMEOUT",
                "LEADS_PROXY_FALLBACK",
                "LEADS_PROXY_ADMIN_TOKEN",
                "LEADS_PROXY_ANONYMIZE",
                "LEADS_PROXY_RECORD_AS_DEFAULT",
            ],
        ),
        (["fixtures"], ["validate", "generate", "anonymize"]),
        (["contract", "check"], ["--key-env", "SONDOS_API_KEY", "--from-file", "--format"]),
        (["fixtures", "validate"], ["LEADS_PROXY_FIXTURES"]),
        (["fixtures", "generate"], ["--count", "--seed", "--out", "--progress"]),
    ],
)
def test_help__explains_every_option(args: list[str], mentions: list[str]) -> None:
    result = run(*args, "--help")
    assert result.returncode == 0
    for word in mentions:
        assert word in result.stdout


# --- bad settings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        pytest.param(
            ["--mode", "mokc"],
            {},
            "invalid value 'mokc' for --mode / LEADS_PROXY_MODE: "
            "expected one of mock, proxy, record",
            id="mode-flag",
        ),
        pytest.param(
            [],
            {"LEADS_PROXY_MODE": "replay"},
            "invalid value 'replay' for --mode / LEADS_PROXY_MODE: "
            "expected one of mock, proxy, record",
            id="mode-env",
        ),
        pytest.param(
            ["--port", "70000"],
            {},
            "--port / LEADS_PROXY_PORT: expected a whole number from 0 to 65535",
            id="port-range",
        ),
        pytest.param(
            [],
            {"LEADS_PROXY_PORT": "eighty"},
            "--port / LEADS_PROXY_PORT: expected a whole number from 0 to 65535",
            id="port-env",
        ),
        pytest.param(
            ["--mock-auth", "maybe"],
            {},
            "--mock-auth / LEADS_PROXY_MOCK_AUTH: expected one of on, off",
            id="mock-auth",
        ),
        pytest.param(
            ["--log-level", "loud"],
            {},
            "--log-level / LEADS_PROXY_LOG_LEVEL: expected one of critical, error, warning, info, "
            "debug",
            id="log-level",
        ),
        pytest.param(
            ["--access-log", "yes"],
            {},
            "--access-log / LEADS_PROXY_ACCESS_LOG: expected one of on, off",
            id="access-log",
        ),
        pytest.param(["--colour", "red"], {}, "unrecognized arguments: --colour", id="unknown"),
        pytest.param(
            ["--mode", "record", "--fixtures", "/proc/no-such-place"],
            {},
            "--fixtures /proc/no-such-place: cannot record there",
            id="record-unwritable",
        ),
        pytest.param(
            ["--mode", "proxy", "--upstream-url", "ftp://example.invalid"],
            {},
            "--upstream-url / LEADS_PROXY_UPSTREAM_URL: expected an http or https URL",
            id="upstream-url",
        ),
        pytest.param(
            ["--ttl", "-1"],
            {},
            "--ttl / LEADS_PROXY_TTL: expected a number, 0 or more",
            id="ttl",
        ),
        pytest.param(
            [],
            {"LEADS_PROXY_FALLBACK": "maybe"},
            "--fallback / LEADS_PROXY_FALLBACK: expected one of none, fixtures",
            id="fallback-env",
        ),
        pytest.param(
            ["--admin-token", ""],
            {},
            "invalid value for --admin-token / LEADS_PROXY_ADMIN_TOKEN: expected at least 8",
            id="empty-admin-token",
        ),
        pytest.param(
            ["--mode", "proxy", "--cache-url", "redis://127.0.0.1:6379/0"],
            {},
            "--cache-url / LEADS_PROXY_CACHE_URL needs --key-secret / LEADS_PROXY_KEY_SECRET",
            id="cache-url-without-key-secret",
        ),
        pytest.param(
            ["--workers", "many"],
            {},
            "invalid value 'many' for --workers / LEADS_PROXY_WORKERS: expected a whole number "
            "from 1 to 64",
            id="workers",
        ),
    ],
)
def test_serve__a_bad_setting_exits_2_with_one_clear_line(
    args: list[str], env: dict[str, str], says: str
) -> None:
    port = free_port()
    flags = [] if "LEADS_PROXY_PORT" in env else ["--port", str(port)]
    result = run("serve", *flags, *args, env=clean_env(**env))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert nothing_listens_on(port)


def test_serve__a_flag_wins_over_its_env_twin(launch: Launch, tmp_path: Path) -> None:
    running = launch("--mock-auth", "off", env=clean_env(LEADS_PROXY_MOCK_AUTH="on"))
    assert running.client.get("/leads").status_code == 200


def test_serve__fixtures_dir_from_env(launch: Launch, tmp_path: Path, fixtures_dir: Path) -> None:
    write(fixtures_dir, "default", [EXAMPLE_LEAD])
    running = launch(env=clean_env(LEADS_PROXY_FIXTURES=str(fixtures_dir)))
    assert running.client.get("/leads", headers=AUTH).json() == [EXAMPLE_LEAD]


# --- bad fixtures -----------------------------------------------------------------


BAD_FIXTURES: list[Any] = [
    pytest.param(
        {"default": '[\n  {"id": 1,\n   "status": "created"\n  ,,\n]'},
        ["default.json:4:4: malformed JSON: Expecting property name enclosed in double quotes"],
        id="malformed-json-line-column",
    ),
    pytest.param(
        {"default": [EXAMPLE_LEAD, lead(phone_number="555-1234")]},
        [
            "default.json: /1/phone_number: expected an E.164 phone number like +14155550123, "
            'got "555-1234"'
        ],
        id="phone",
    ),
    pytest.param(
        {"default": [lead(id="7", created_at="30/06/2025")]},
        [
            'default.json: /0/id: expected a valid integer, got "7"',
            "default.json: /0/created_at: expected a timestamp like 2025-06-30 11:18:04",
        ],
        id="id-and-timestamp",
    ),
    pytest.param(
        {
            "default": [EXAMPLE_LEAD],
            "other": [
                lead(campaign={"id": 1}),
                {k: v for k, v in EXAMPLE_LEAD.items() if k != "variables"},
            ],
        },
        [
            "other.json: /0/campaign/name: missing required field",
            "other.json: /1/variables: missing required field",
        ],
        id="missing-fields-in-a-second-file",
    ),
    pytest.param(
        {
            "default": [
                lead(secondary_contacts=[{**EXAMPLE_LEAD["secondary_contacts"][0], "id": 2.5}])
            ]
        },
        ["default.json: /0/secondary_contacts/0/id: expected a valid integer, got 2.5"],
        id="secondary-contact",
    ),
    pytest.param(
        {"default": {"data": [EXAMPLE_LEAD]}},
        ["default.json: (root): expected a valid list"],
        id="not-an-array",
    ),
    pytest.param({"other": []}, ["no default.json: the default answer needs one"], id="no-default"),
]


@pytest.mark.parametrize(("files", "lines"), BAD_FIXTURES)
def test_serve__invalid_fixtures_stop_the_server_before_it_binds(
    fixtures_dir: Path, files: dict[str, Any], lines: list[str]
) -> None:
    for name, content in files.items():
        write(fixtures_dir, name, content)
    port = free_port()
    result = run("serve", "--port", str(port), "--fixtures", str(fixtures_dir))
    assert result.returncode == 2
    printed = result.stderr.strip().splitlines()
    assert len(printed) == len(lines) + 1, result.stderr  # one per problem, then a summary
    for line, expected in zip(printed, lines, strict=False):
        assert str(fixtures_dir / "leads") in line
        assert expected in line
    assert "nothing served" in printed[-1]
    assert "Traceback" not in result.stderr
    assert nothing_listens_on(port)


@pytest.mark.parametrize(("files", "lines"), BAD_FIXTURES)
def test_fixtures_validate__reports_the_same_problems_and_exits_1(
    fixtures_dir: Path, files: dict[str, Any], lines: list[str]
) -> None:
    for name, content in files.items():
        write(fixtures_dir, name, content)
    result = run("fixtures", "validate", str(fixtures_dir))
    assert result.returncode == 1
    for expected in lines:
        assert expected in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda root: root / "nowhere", "fixtures directory not found"),
        (lambda root: root, "no leads/ folder"),
    ],
    ids=["missing-dir", "no-leads-folder"],
)
def test_serve__a_missing_fixtures_dir_is_one_clear_error(
    tmp_path: Path, make: Any, says: str
) -> None:
    result = run("serve", "--port", str(free_port()), "--fixtures", str(make(tmp_path)))
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_fixtures_validate__bundled_fixtures_are_valid() -> None:
    result = run("fixtures", "validate")
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == f"{BUNDLED}: valid"


def test_fixtures_validate__unknown_status_is_a_warning_not_a_failure(fixtures_dir: Path) -> None:
    write(fixtures_dir, "default", [lead(status="voicemail")])
    result = run("fixtures", "validate", str(fixtures_dir))
    assert result.returncode == 0
    assert "warning:" in result.stdout
    assert "/0/status: unknown status 'voicemail'" in result.stdout


def test_serve__unknown_status_is_logged_and_served(
    launch: Launch, tmp_path: Path, fixtures_dir: Path
) -> None:
    write(fixtures_dir, "default", [lead(status="voicemail")])
    running = launch("--fixtures", str(fixtures_dir))
    assert running.client.get("/leads", headers=AUTH).json()[0]["status"] == "voicemail"
    assert "unknown status 'voicemail'" in running.log()


# --- generate ---------------------------------------------------------------------


def test_fixtures_generate__is_valid_and_reproducible(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for seed, out in [("9", first), ("9", second), ("10", other)]:
        result = run("fixtures", "generate", "--count", "500", "--seed", seed, "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert first.read_bytes() == second.read_bytes() != other.read_bytes()
    umask = os.umask(0)
    os.umask(umask)
    assert first.stat().st_mode & 0o777 == 0o666 & ~umask
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    leads = json.loads(first.read_text())
    assert len(leads) == 500
    assert_valid_leads(leads)


def test_fixtures_generate__a_large_file_serves_as_an_example(
    launch: Launch, tmp_path: Path, fixtures_dir: Path
) -> None:
    shutil.copy(BUNDLED / "leads" / "default.json", fixtures_dir / "leads")
    out = fixtures_dir / "leads" / "big.json"
    result = run("fixtures", "generate", "--count", "20000", "--out", str(out), "--progress", "on")
    assert result.returncode == 0
    assert "20,000/20,000" in result.stderr  # the progress bar reached the end
    assert run("fixtures", "validate", str(fixtures_dir)).returncode == 0
    running = launch("--fixtures", str(fixtures_dir))
    response = running.client.get(
        "/leads?per_page=100&page=200", headers={**AUTH, "Prefer": "example=big"}
    )
    assert response.json()["total"] == 20_000
    assert response.json()["data"][-1]["id"] == json.loads(out.read_text())[-1]["id"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--count", "0"], "--count must be from 1 to 1,000,000"),
        (["--count", "ten"], "argument --count: invalid int value: 'ten'"),
        (["--count", "5", "--seed", "-1"], "--seed must be 0 or more"),
        (["--count", "5", "--progress", "loud"], "invalid choice: 'loud'"),
    ],
)
def test_fixtures_generate__bad_arguments_exit_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    result = run("fixtures", "generate", *args, "--out", str(tmp_path / "x.json"))
    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()


def test_fixtures_generate__into_a_missing_folder_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "x.json"
    result = run("fixtures", "generate", "--count", "5", "--out", str(out))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


# --- the README's own command -----------------------------------------------------


def test_readme__scripts_serve_starts_mock_mode_on_the_bundled_fixtures(
    launch: Launch, tmp_path: Path
) -> None:
    running = launch(command=[str(ROOT / "scripts" / "serve")])
    response = running.client.get("/api/user/leads", headers=AUTH)
    assert response.json() == json.loads((BUNDLED / "leads" / "default.json").read_text())


def test_serve__logs_what_it_serves_and_ignores_empty_env_values(
    launch: Launch, tmp_path: Path
) -> None:
    running = launch(env=clean_env(LEADS_PROXY_FIXTURES="", LEADS_PROXY_MODE=""))
    assert running.client.get("/leads", headers=AUTH).status_code == 200
    assert f"fixtures from {BUNDLED}: examples default, documented, empty, large" in (running.log())
