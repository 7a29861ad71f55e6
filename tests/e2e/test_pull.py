"""`fixtures pull` as a user runs it: a paginated listing of 1,050 leads, a 429
midway, an interruption (SIGINT) and a resume; the fixture is the whole listing."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from leads_proxy.fixtures.anonymize import anonymize_leads
from leads_proxy.fixtures.files import load_fixtures
from tests.fake_upstream import LEADS_PATH, FakeUpstream
from tests.support import LEADS_PROXY, ROOT, clean_env, eventually

KEY = "9|pull-key-for-the-whole-listing"
SIZE = 1_050  # 11 pages of 100


def pull(upstream: FakeUpstream, out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LEADS_PROXY, "fixtures", "pull", "--out", str(out), "--upstream-url", upstream.url,
         "--progress", "off", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=clean_env(SONDOS_API_KEY=KEY),
    )  # fmt: skip


def requests_at(upstream: FakeUpstream) -> list[tuple[float, str]]:
    return [(seen.at, seen.query) for seen in upstream.seen if seen.path == LEADS_PATH]


def test_pull__a_429_midway_and_an_interruption_resumed_give_the_whole_listing(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    out = tmp_path / "pulled"
    with upstream.behaving(listing=SIZE, throttle_at=3, retry_after="2"):
        first = pull(upstream, out, "--upstream-max-rps", "4")
        eventually(lambda: upstream.count() >= 6, within=30)
        first.send_signal(signal.SIGINT)
        _, interrupted = first.communicate(timeout=30)
        assert first.returncode == 130, interrupted
        assert "run again with --resume" in interrupted
        assert "rate-limited: waiting 2 s" in interrupted  # the 429 came in this run
        assert "pages 1/11, leads 100/1,050" in interrupted  # plain progress lines
        assert not (out / "leads" / "default.json").exists()  # nothing half-written
        asked_before = upstream.count()

        again = pull(upstream, out)
        _, refused = again.communicate(timeout=60)
        assert again.returncode != 0  # without --resume: refuses, and says how
        assert "--resume" in refused

        resumed = pull(upstream, out, "--resume")
        stdout, err = resumed.communicate(timeout=60)
        assert resumed.returncode == 0, err
    assert f"wrote {SIZE:,} leads" in stdout
    written = json.loads((out / "leads" / "default.json").read_text())
    assert written == upstream.listing_of(f"Bearer {KEY}", SIZE)  # lead for lead
    assert not (out / ".pull").exists()
    load_fixtures(out)  # mock mode can serve it

    seen = requests_at(upstream)
    # The 429 (3rd request): nothing was asked during its 2 s Retry-After.
    assert seen[3][0] - seen[2][0] >= 2.0, seen[:4]
    pages = [query for _, query in seen]
    assert all("per_page=100" in query for query in pages)
    # The resume asked only for what was missing: 11 pages, the 429 and at most
    # the page the interruption cut short were asked twice.
    assert len(pages) <= 11 + 1 + 1, pages
    assert upstream.count() - asked_before <= 11


def test_pull__a_bare_array_is_one_request_and_anonymize_is_consistent(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    out = tmp_path / "bare"
    body = json.dumps(json.loads((ROOT / "fixtures" / "leads" / "default.json").read_text()))
    with upstream.behaving(body=body.encode()):
        done = pull(upstream, out, "--anonymize")
        _, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    assert upstream.count() == 1
    written = json.loads((out / "leads" / "default.json").read_text())
    assert written == anonymize_leads(json.loads(body))  # the same fakes as recordings get
    assert not {lead["phone_number"] for lead in written} & {
        lead["phone_number"] for lead in json.loads(body)
    }


def test_pull__no_key_no_request(upstream: FakeUpstream, tmp_path: Path) -> None:
    done = subprocess.run(
        [LEADS_PROXY, "fixtures", "pull", "--out", str(tmp_path), "--upstream-url", upstream.url],
        capture_output=True, text=True, env=clean_env(), timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "SONDOS_API_KEY" in done.stderr
    assert upstream.count() == 0
