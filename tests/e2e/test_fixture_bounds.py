"""Bounds on the fixtures folder, as `serve` and `fixtures validate` meet a hostile one:
only regular files inside the folder, each within a size and a depth bound, read once;
every problem one line naming the file and the place; page URLs built from a Host that
names a host, written in as JSON, never pasted.

Each command runs under an address-space limit and a timeout, so a server that reads
`/dev/zero` or waits on a FIFO fails the test instead of the machine."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from leads_proxy.fixtures.recordings import UPSTREAM
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from tests.support import AUTH, LEADS_PROXY, Launch, clean_env, free_port

ADDRESS_SPACE = 3 * 1024**3  # far above what a server on these folders needs
SECRET = "TOP-SECRET-OUTSIDE-THE-FOLDER"
INJECTION = '127.0.0.1","total":999999,"injected":"'


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A leads-proxy command run to its end (serve on a bad folder ends: nothing served)."""
    try:
        return subprocess.run(
            [LEADS_PROXY, *args],
            capture_output=True, text=True, check=False, env=clean_env(),
            timeout=timeout, preexec_fn=limited,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"leads-proxy {' '.join(args)} did not end within {timeout} s")


def folder(root: Path, *, index: object = None, files: dict[str, bytes] | None = None) -> Path:
    """A valid fixtures folder, with an index of recordings and more files if given."""
    (root / "leads").mkdir(parents=True)
    (root / "leads" / "default.json").write_text(json.dumps([EXAMPLE_LEAD]))
    if index is not None:
        (root / "recordings.json").write_text(json.dumps(index))
    for name, data in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def index_of(entries: dict[str, str], key: str | None = None) -> dict[str, object]:
    """A format 2 index: name -> file, each for its own query."""
    return {
        "format": 2,
        "recordings": {
            name: {"query": f"status=q{number}", "key": key, "file": file}
            for number, (name, file) in enumerate(entries.items())
        },
    }


def paginator() -> bytes:
    """A recorded page as record mode keeps it: its URLs name the upstream."""
    url = f"{UPSTREAM}/user/leads"
    page = {
        "current_page": 1, "data": [EXAMPLE_LEAD], "first_page_url": f"{url}?page=1",
        "from": 1, "last_page": 2, "last_page_url": f"{url}?page=2",
        "links": [{"url": f"{url}?page=2", "label": "2", "active": False}],
        "next_page_url": f"{url}?page=2", "path": url, "per_page": 1,
        "prev_page_url": None, "to": 1, "total": 2,
    }  # fmt: skip
    return json.dumps(page).encode()


def _link_out(root: Path) -> str:
    outside = root.parent / "outside.json"
    outside.write_text(json.dumps({"secret": SECRET}))
    (root / "leads" / "evil.json").symlink_to(outside)
    return "evil.json: outside the fixtures folder"


def _dev_zero(root: Path) -> str:
    (root / "leads" / "zero.json").symlink_to("/dev/zero")
    return "zero.json: outside the fixtures folder"


def _fifo(root: Path) -> str:
    os.mkfifo(root / "leads" / "pipe.json")
    return "pipe.json: not a regular file (a FIFO)"


def _deep(root: Path) -> str:
    (root / "leads" / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    return "deep.json:1:65"


def _huge(root: Path) -> str:
    with (root / "leads" / "huge.json").open("wb") as file:
        file.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk, no memory
    return "huge.json: 67,108,865 bytes, over the bound of 67,108,864 bytes"


def _nul_name(root: Path) -> str:
    (root / "recordings.json").write_text(json.dumps({"a\u0000b": {"query": "x"}}))
    return "recordings.json: 'a\\x00b': a name with control characters"


def _nul_file(root: Path) -> str:
    index = index_of({"a": "recordings/a\u0000.json"})
    (root / "recordings.json").write_text(json.dumps(index))
    return "recordings.json: 'a': a file name with control characters"


def _deep_index(root: Path) -> str:
    (root / "recordings.json").write_bytes(b'{"a": ' + b"[" * 100_000)
    return "recordings.json:1:70: not a readable JSON index: nested deeper than 64 levels"


def _recording_out(root: Path) -> str:
    outside = root.parent / "outside.json"
    outside.write_text(json.dumps({"secret": SECRET}))
    (root / "recordings").mkdir()
    (root / "recordings" / "a.json").symlink_to(outside)
    (root / "recordings.json").write_text(json.dumps(index_of({"a": "recordings/a.json"})))
    return "recordings.json: 'a': its file is outside the folder"


HOSTILE: dict[str, Callable[[Path], str]] = {
    "link-out": _link_out,
    "dev-zero": _dev_zero,
    "fifo": _fifo,
    "deep": _deep,
    "huge": _huge,
    "nul-name": _nul_name,
    "nul-file": _nul_file,
    "deep-index": _deep_index,
    "recording-out": _recording_out,
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("command", ["validate", "serve"])
def test_bounds__a_hostile_folder_is_one_line_per_problem_never_a_crash_or_a_hang(
    tmp_path: Path, make: Callable[[Path], str], command: str
) -> None:
    root = folder(tmp_path / "fixtures")
    says = make(root)
    if command == "validate":
        result = run("fixtures", "validate", str(root))
        assert result.returncode == 1, result.stdout + result.stderr
        lines = result.stdout.splitlines()
    else:
        result = run("serve", "--port", str(free_port()), "--fixtures", str(root))
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.splitlines()
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown
    assert SECRET not in shown
    problems = [line for line in lines if line.startswith(str(root))]
    assert len(problems) == 1, shown
    assert f"{root}/" in problems[0]
    assert says in problems[0].replace(f"{root}/leads/", "").replace(f"{root}/", ""), shown


def test_bounds__a_recording_over_32_mib_is_served_whole(launch: Launch, tmp_path: Path) -> None:
    lead = {**EXAMPLE_LEAD, "variables": {"notes": "x" * (40 * 1024 * 1024)}}
    body = json.dumps([lead]).encode()
    root = folder(
        tmp_path / "fixtures",
        index=index_of({"big": "recordings/big.json"}),
        files={"recordings/big.json": body},
    )
    server = launch("--fixtures", str(root))
    for _ in range(2):  # made once, then ready
        got = server.client.get("/api/user/leads?status=q0", headers=AUTH)
        assert got.status_code == 200, got.text[:200]
        assert got.headers["x-mock-source"] == "recorded"
        assert got.content == body


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def test_bounds__a_file_named_200_times_costs_its_memory_once(
    launch: Launch, tmp_path: Path
) -> None:
    leads = [
        {**EXAMPLE_LEAD, "id": n, "variables": {"notes": os.urandom(400).hex()}} for n in range(620)
    ]
    body = json.dumps(leads).encode()  # about 0.8 MiB, hardly compressible
    assert 0.7 < len(body) / 2**20 < 1.0

    def server_on(names: int) -> tuple[float, httpx.Client]:
        root = folder(
            tmp_path / f"fixtures-{names}",
            index=index_of({f"n{n}": "recordings/one.json" for n in range(names)}),
            files={"recordings/one.json": body},
        )
        server = launch("--fixtures", str(root))
        for n in range(names):
            got = server.client.get(f"/api/user/leads?status=q{n}", headers=AUTH)
            assert got.status_code == 200
            assert got.content == body
        return rss_mib(server.process.pid), server.client

    once, _ = server_on(1)
    many, _ = server_on(200)
    # Before: each name read, checked and made ready on its own (+160 MiB and more).
    assert many - once < 48, (once, many)


@pytest.fixture
def replaying(launch: Launch, tmp_path: Path) -> str:
    root = folder(
        tmp_path / "fixtures",
        index=index_of({"page": "recordings/page.json"}),
        files={"recordings/page.json": paginator()},
    )
    return launch("--fixtures", str(root)).url


def test_bounds__a_replayed_pages_urls_are_built_on_the_host_named(replaying: str) -> None:
    port = replaying.rsplit(":", 1)[1]
    with httpx.Client(timeout=10) as client:
        got = client.get(
            f"{replaying}/api/user/leads?status=q0",
            headers={**AUTH, "Host": f"localhost:{port}"},
        )
    assert got.status_code == 200
    assert got.headers["x-mock-source"] == "recorded"
    page = got.json()
    assert page["next_page_url"] == f"http://localhost:{port}/api/user/leads?page=2"
    assert page["links"][0]["url"] == page["next_page_url"]


@pytest.mark.parametrize(
    "path",
    ["/api/user/leads?status=q0", "/api/user/leads?per_page=5"],
    ids=["recorded", "emulated"],
)
@pytest.mark.parametrize("host", [INJECTION, '127.0.0.1:1"x', "a b", "127.0.0.1\\evil"])
def test_bounds__a_host_that_names_no_host_writes_no_page_url(
    replaying: str, path: str, host: str
) -> None:
    with httpx.Client(timeout=10) as client:
        got = client.get(f"{replaying}{path}", headers={**AUTH, "Host": host})
    assert got.status_code in {400, 421}, got.text
    assert set(got.json()) == {"message"}
    assert "injected" not in got.text


@pytest.mark.parametrize("kind", ["fifo", "deep"])
@pytest.mark.parametrize(
    "command",
    [["fixtures", "anonymize"], ["contract", "check", "--from-file"]],
    ids=["anonymize", "contract-check"],
)
def test_bounds__a_file_named_on_the_command_line_is_read_within_the_bounds(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    path = tmp_path / "leads.json"
    if kind == "fifo":
        os.mkfifo(path)
        says = f"{path}: not a regular file (a FIFO): not read"
    else:
        path.write_bytes(b"[" * 100_000)
        says = f"{path}:1:65: not a JSON file: nested deeper than 64 levels"
    result = run(*command, str(path), timeout=30)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert says in result.stderr
