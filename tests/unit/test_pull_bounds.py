"""The pull's bounds, driven with a scripted transport and a fake sleep: 429s back off
and give up, pages and leads have a ceiling, a bomb stops at the body bound."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from leads_proxy.commands.pull import BACKOFF_CAP, MAX_WAIT, RATE_LIMITS, Pull, PullError
from leads_proxy.fixtures.schema import EXAMPLE_LEAD
from leads_proxy.proxy.upstream import MAX_ANSWER_BYTES

Handler = httpx.MockTransport


def walk(tmp_path: Path, answer: object, **options: object) -> tuple[Pull, list[float], list[str]]:
    waits: list[float] = []
    asked: list[str] = []

    def respond(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["page"])
        return answer(int(request.url.params["page"]))  # type: ignore[operator, no-any-return]

    client = httpx.Client(base_url="http://up/api", transport=httpx.MockTransport(respond))
    puller = Pull(client, out=tmp_path, key="k", sleep=waits.append, wall=lambda: 1e9,
                  **options)  # type: ignore[arg-type]  # fmt: skip
    return puller, waits, asked


def page(numbers: range, **paginator: object) -> httpx.Response:
    return httpx.Response(200, json={"data": [{**EXAMPLE_LEAD, "id": n} for n in numbers],
                                     **paginator})  # fmt: skip


@pytest.mark.parametrize(
    ("retry_after", "first"),
    [("0", 1.0), ("Thu, 01 Jan 1970 00:00:00 GMT", 1.0), (None, 10.0), ("5", 5.0)],
    ids=["zero", "1970", "none", "five"],
)
def test_pull__429s_back_off_from_a_floor_and_give_up(
    tmp_path: Path, retry_after: str | None, first: float
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    puller, waits, asked = walk(tmp_path, lambda _page: httpx.Response(429, headers=headers))
    with pytest.raises(PullError, match=f"page 1: still rate-limited after {RATE_LIMITS} waits"):
        puller.run(resume=False)
    assert len(asked) == RATE_LIMITS + 1
    floors = [min(2.0**n, BACKOFF_CAP) for n in range(RATE_LIMITS)]
    assert waits == [max(floor, first) for floor in floors]


def test_pull__a_retry_after_is_capped(tmp_path: Path) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "99999999"})])
    puller, waits, _ = walk(tmp_path, lambda n: next(answers, None) or page(range(1, 2)))
    puller.run(resume=False)
    assert waits == [MAX_WAIT]


def test_pull__more_pages_than_the_bound_stop_and_keep_what_came(tmp_path: Path) -> None:
    def endless(number: int) -> httpx.Response:
        return page(range(number, number + 1), next_page_url=f"http://up/x?page={number + 1}")

    puller, _, asked = walk(tmp_path, endless, max_pages=5)
    with pytest.raises(PullError, match=r"past 5 pages.*the 5 pages pulled so far are kept"):
        puller.run(resume=False)
    assert len(asked) == 5
    assert (tmp_path / ".pull" / "page-000005.json").exists()


def test_pull__more_leads_than_the_bound_stop(tmp_path: Path) -> None:
    puller, _, asked = walk(tmp_path, lambda n: page(range(3 * n, 3 * n + 3), last_page=9),
                            max_leads=7)  # fmt: skip
    with pytest.raises(PullError, match=r"past 7 leads.*the 2 pages pulled so far are kept"):
        puller.run(resume=False)
    assert asked == ["1", "2", "3"]


def test_pull__a_next_page_url_past_any_page_is_no_page(tmp_path: Path) -> None:
    puller, _, asked = walk(
        tmp_path, lambda n: page(range(1, 2), next_page_url="http://up/x?page=" + "9" * 5000)
    )
    puller.run(resume=False)
    assert asked == ["1"]


def test_pull__a_bare_array_after_paginated_pages_is_refused(tmp_path: Path) -> None:
    answers = {1: page(range(1, 3), last_page=2), 2: httpx.Response(200, json=[])}
    puller, _, _ = walk(tmp_path, answers.__getitem__)
    with pytest.raises(PullError, match="page 2: a bare array after pages of a paginator"):
        puller.run(resume=False)


def test_pull__a_gzip_bomb_stops_at_the_body_bound(tmp_path: Path) -> None:
    bomb = gzip.compress(b"[" + b" " * (MAX_ANSWER_BYTES + 1) + b"]", 1)
    answer = httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"})
    puller, _, asked = walk(tmp_path, lambda _n: answer)
    with pytest.raises(PullError, match=r"page 1: the answer is over .* bytes once decoded"):
        puller.run(resume=False)
    assert asked == ["1"]


def test_pull__two_gzip_members_are_one_body(tmp_path: Path) -> None:
    body = json.dumps([{**EXAMPLE_LEAD, "id": n} for n in range(4)]).encode()
    packed = gzip.compress(body[:50]) + gzip.compress(body[50:])
    answer = httpx.Response(200, content=packed, headers={"Content-Encoding": "gzip"})
    puller, _, _ = walk(tmp_path, lambda _n: answer)
    assert [lead["id"] for lead in json.loads(puller.run(resume=False).read_text())] == [0, 1, 2, 3]
