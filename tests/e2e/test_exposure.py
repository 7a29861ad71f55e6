"""What a server shows and to whom, through a real server: in proxy and record
modes the journal and the status data need the admin token where one is set and
answer loopback clients only where none is; clearing needs the token; probes
stay open; mock mode's views stay open. The status page sends the token it was
opened with (Chromium). No URL password is printed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from leads_proxy.http.keys import key_fingerprint
from tests.fake_upstream import FakeUpstream
from tests.support import AUTH, Launch, Server, clean_env

ADMIN = "view-admin-token-123"
VIEWS = ("/_proxy/requests", "/_proxy/status")
PROBES = ("/_proxy/health", "/_proxy/ready", "/_proxy/stats", "/_proxy/metrics")
# A client a trusted proxy in front names: uvicorn takes X-Forwarded-For from loopback.
REMOTE = {"X-Forwarded-For": "203.0.113.7"}


def proxy(launch: Launch, upstream: FakeUpstream, *args: str, mode: str = "proxy") -> Server:
    server = launch("--mode", mode, "--upstream-url", upstream.url, *args, env=clean_env())
    assert server.client.get("/api/user/leads", headers=AUTH).status_code == 200
    return server


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_views__need_the_admin_token_where_one_is_set(
    launch: Launch, upstream: FakeUpstream
) -> None:
    server = proxy(launch, upstream, "--admin-token", ADMIN)
    for path in VIEWS:
        for headers in ({}, bearer("wrong"), AUTH):  # none, a wrong one, an API key
            answer = server.client.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json() == {"message": "Unauthenticated."}
            assert ADMIN not in answer.text
        assert server.client.get(path, headers=bearer(ADMIN)).status_code == 200
    journal = server.client.get("/_proxy/requests", headers=bearer(ADMIN)).json()["requests"]
    assert journal
    assert server.client.delete("/_proxy/requests").status_code == 401
    assert server.client.get("/_proxy/requests", headers=bearer(ADMIN)).json()["requests"]
    assert server.client.delete("/_proxy/requests", headers=bearer(ADMIN)).status_code == 200
    for path in PROBES:
        assert server.client.get(path, headers=REMOTE).status_code == 200, path


@pytest.mark.parametrize("mode", ["proxy", "record"])
def test_views__without_a_token_answer_loopback_clients_only(
    launch: Launch, upstream: FakeUpstream, mode: str, tmp_path: Path
) -> None:
    extra = ("--fixtures", str(tmp_path / "recorded")) if mode == "record" else ()
    server = proxy(launch, upstream, *extra, mode=mode)
    for path in VIEWS:
        assert server.client.get(path).status_code == 200, path
        answer = server.client.get(path, headers=REMOTE)
        assert answer.status_code == 403, path
        assert "loopback clients only" in answer.json()["message"]
    assert server.client.delete("/_proxy/requests", headers=REMOTE).status_code == 403
    assert server.client.get("/_proxy/requests").json()["requests"]
    for path in PROBES:
        assert server.client.get(path, headers=REMOTE).status_code == 200, path
    assert "loopback" in server.log()


def test_views__mock_modes_stay_open_and_its_changes_take_the_token(launch: Launch) -> None:
    mock = launch("--admin-token", ADMIN)
    for path in VIEWS:
        assert mock.client.get(path, headers=REMOTE).status_code == 200, path
    scenario = {"prefer": "code=503"}
    assert mock.client.put("/_proxy/scenario", json=scenario).status_code == 401
    assert mock.client.delete("/_proxy/requests").status_code == 401
    assert mock.client.get("/api/user/leads", headers=AUTH).status_code == 200
    put = mock.client.put("/_proxy/scenario", json=scenario, headers=bearer(ADMIN))
    assert put.status_code == 200


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    yield context.new_page()
    context.close()


def test_status_page__sends_the_token_it_was_opened_with(
    launch: Launch, upstream: FakeUpstream, page: Page
) -> None:
    server = proxy(launch, upstream, "--admin-token", ADMIN)
    page.goto(f"{server.url}/_proxy/")
    page.wait_for_function(
        "document.getElementById('updated').textContent.includes('admin token')", timeout=15_000
    )
    assert page.locator("#journal tr").count() == 0
    page.goto("about:blank")
    page.goto(f"{server.url}/_proxy/#token={ADMIN}")
    page.wait_for_function("Number(document.body.dataset.rendered) >= 2", timeout=15_000)
    assert page.locator("#journal tr").count() >= 1
    assert ADMIN not in page.url  # the fragment is dropped once read


def test_start_up__never_prints_a_url_password(launch: Launch, upstream: FakeUpstream) -> None:
    with_password = upstream.url.replace("http://", "http://user:S3cretPW@")
    server = launch("--mode", "proxy", "--upstream-url", with_password, env=clean_env())
    assert server.client.get("/api/user/leads", headers=AUTH).status_code == 200
    server.stop()
    assert "S3cretPW" not in server.log()
    assert "user:***@127.0.0.1" in server.log()


def test_cors__never_on_the_views_only_on_the_api(server: Server) -> None:
    other = {"Origin": "http://evil.example"}
    asks = {**other, "Access-Control-Request-Method": "GET"}
    api = server.client.options("/api/user/leads", headers=asks)
    assert api.status_code == 204
    assert api.headers["access-control-allow-origin"] == "*"
    for path in ("/_proxy/requests", "/_proxy/status", "/_proxy/scenario"):
        preflight = server.client.options(path, headers=asks)
        assert "access-control-allow-origin" not in preflight.headers, path
        answer = server.client.get(path, headers=other)
        assert "access-control-allow-origin" not in answer.headers, path


def test_cors__a_preflight_asking_for_many_headers_is_bounded(server: Server) -> None:
    names = ",".join(f"x-h-{index}" for index in range(5_000))  # within the head bound
    asks = {"Origin": "http://a.example", "Access-Control-Request-Method": "GET"}
    answer = server.client.options(
        "/api/user/leads", headers={**asks, "Access-Control-Request-Headers": names}
    )
    assert answer.status_code == 204
    allowed = answer.headers["access-control-allow-headers"].split(", ")
    assert "authorization" in allowed
    assert "x-h-0" in allowed
    assert "x-h-63" in allowed
    assert "x-h-64" not in allowed
    assert len(allowed) < 100


def journal_key(server: Server) -> str:
    assert server.client.get("/api/user/leads", headers=AUTH).status_code == 200
    key: str = server.client.get("/_proxy/requests").json()["requests"][0]["key"]
    return key


def test_fingerprints__keyed_by_a_secret_kept_in_the_state_folder(
    launch: Launch, tmp_path: Path
) -> None:
    first, other = tmp_path / "first", tmp_path / "other"
    shown = journal_key(launch(env=clean_env(XDG_STATE_HOME=str(first))))
    secret = first / "leads-proxy" / "fingerprint.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_bytes()) == 32
    assert journal_key(launch(env=clean_env(XDG_STATE_HOME=str(first)))) == shown  # restarted
    # Another deployment, another secret: the same key is another fingerprint, and
    # neither is the plain digest a dictionary could be checked against.
    assert journal_key(launch(env=clean_env(XDG_STATE_HOME=str(other)))) != shown
    token = AUTH["Authorization"].removeprefix("Bearer ").encode()
    assert shown != key_fingerprint(token)
    assert token not in secret.read_bytes()


def test_fingerprints__the_same_on_replicas_that_share_a_key_secret(
    launch: Launch, upstream: FakeUpstream, tmp_path: Path
) -> None:
    shared = ("--mode", "proxy", "--upstream-url", upstream.url, "--key-secret", "s" * 32)
    shown = [
        journal_key(launch(*shared, env=clean_env(XDG_STATE_HOME=str(tmp_path / name))))
        for name in ("a", "b")
    ]
    assert shown[0] == shown[1]


@pytest.mark.parametrize("kind", ["fifo", "link", "short", "folder"])
def test_fingerprints__a_state_file_that_is_no_secret_is_said_and_not_read(
    launch: Launch, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "state" / "leads-proxy"
    folder.mkdir(parents=True)
    path = folder / "fingerprint.key"
    if kind == "fifo":
        os.mkfifo(path)  # reading it would wait forever
    elif kind == "link":
        (tmp_path / "elsewhere").write_bytes(b"x" * 32)
        path.symlink_to(tmp_path / "elsewhere")
    elif kind == "short":
        path.write_bytes(b"short")
    else:
        path.mkdir()
    server = launch(env=clean_env(XDG_STATE_HOME=str(tmp_path / "state")))
    assert journal_key(server)
    assert "key fingerprints change at every start" in server.log()
    assert "Traceback" not in server.log()
