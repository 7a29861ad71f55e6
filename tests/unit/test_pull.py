"""The pull's walk, driven with a scripted transport and a fake clock."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from leads_proxy.commands.pull import Progress, Pull, PullError
from leads_proxy.fixtures.schema import EXAMPLE_LEAD


def lead(number: int) -> dict[str, object]:
    return {**EXAMPLE_LEAD, "id": number}


class Upstream:
    """Pages of 2 leads, 5 leads in all, linked by next_page_url only (no count)."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(str(request.url.params))
        if self.answers:
            return self.answers.pop(0)
        page = int(request.url.params["page"])
        data = [lead(n) for n in range(2 * page - 1, min(2 * page, 5) + 1)]
        following = f"http://up/api/user/leads?page={page + 1}" if page < 3 else None
        return httpx.Response(200, json={"data": data, "next_page_url": following})


def walk(tmp_path: Path, upstream: Upstream, **options: object) -> tuple[Pull, list[float]]:
    waits: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client = httpx.Client(base_url="http://up/api", transport=httpx.MockTransport(upstream))
    puller = Pull(client, out=tmp_path, key="k", sleep=sleep, clock=lambda: now[0],
                  wall=lambda: 1e9 + now[0], **options)  # type: ignore[arg-type]  # fmt: skip
    return puller, waits


def test_pull__follows_next_page_url_when_there_is_no_count(tmp_path: Path) -> None:
    upstream = Upstream()
    puller, _ = walk(tmp_path, upstream)
    path = puller.run(resume=False)
    assert [item["id"] for item in json.loads(path.read_text())] == [1, 2, 3, 4, 5]
    assert upstream.asked == ["per_page=100&page=1", "per_page=100&page=2", "per_page=100&page=3"]


def test_pull__a_429_waits_its_retry_after_and_failures_are_retried(tmp_path: Path) -> None:
    upstream = Upstream(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503),
    )
    puller, waits = walk(tmp_path, upstream, max_rps=2.0)
    puller.run(resume=False)
    assert 7.0 in waits
    assert 1.0 in waits  # the first retry after a 503
    assert len(upstream.asked) == 5  # 429, 503, then the three pages


def test_pull__the_key_refused_is_said_and_a_second_run_needs_resume(tmp_path: Path) -> None:
    puller, _ = walk(tmp_path, Upstream(httpx.Response(401)))
    with pytest.raises(PullError, match="refused the key"):
        puller.run(resume=False)
    again, _ = walk(tmp_path, Upstream())
    with pytest.raises(PullError, match="--resume"):
        again.run(resume=False)
    assert again.run(resume=True).exists()


def test_progress__eta_from_the_pages_done() -> None:
    progress = Progress(pages=2, last_page=10, started=0.0)
    assert progress.eta(4.0) == pytest.approx(16.0)
    assert Progress().eta(1.0) is None


@pytest.mark.parametrize(
    ("answers", "says"),
    [
        ([httpx.Response(503)] * 6, "503, after 5 retries"),
        ([httpx.Response(200, content=b"<html>")], "not JSON"),
        ([httpx.Response(200, json={"data": 7})], "neither a list nor a paginator"),
        ([httpx.Response(404)], "answered 404"),
        ([httpx.Response(200, json=[{"id": "not a lead"}])], "does not validate"),
    ],
    ids=["5xx-forever", "not-json", "not-a-listing", "404", "invalid-leads"],
)
def test_pull__what_cannot_be_pulled_is_said(
    tmp_path: Path, answers: list[httpx.Response], says: str
) -> None:
    puller, _ = walk(tmp_path, Upstream(*answers))
    with pytest.raises(PullError, match=says):
        puller.run(resume=False)
    assert not (tmp_path / "leads" / "default.json").exists()


def test_pull__a_dropped_connection_is_tried_again(tmp_path: Path) -> None:
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("reset")
        return httpx.Response(200, json=[lead(1)])

    puller, waits = walk(tmp_path, flaky)  # type: ignore[arg-type]
    assert puller.run(resume=False).exists()
    assert waits == [1.0]


def test_pull__a_resume_with_another_key_is_refused(tmp_path: Path) -> None:
    puller, _ = walk(tmp_path, Upstream(httpx.Response(401)))
    with pytest.raises(PullError):
        puller.run(resume=False)
    client = httpx.Client(base_url="http://up/api", transport=httpx.MockTransport(Upstream()))
    other = Pull(client, out=tmp_path, key="another key")
    with pytest.raises(PullError, match="another key"):
        other.run(resume=True)
