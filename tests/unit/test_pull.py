"""The pull's walk, driven with a scripted transport and a fake clock."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.pull import Progress, Pull, PullError
from app.schema import EXAMPLE_LEAD


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
