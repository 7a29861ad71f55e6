"""Mock mode's rate limit: Laravel's fixed window per key, told in headers."""

from __future__ import annotations

import json

from leads_proxy.http.reply import Reply
from leads_proxy.mock.throttle import Passed, Throttle
from tests.fakes import Clock


def remaining(taken: Passed | Reply) -> str:
    assert isinstance(taken, Passed)
    headers = dict(taken.headers)
    assert headers[b"x-ratelimit-limit"] == b"3"
    return headers[b"x-ratelimit-remaining"].decode()


def test_throttle__n_pass_counting_down_then_429_until_the_window_ends() -> None:
    clock = Clock()
    throttle = Throttle(3, clock=clock, wall=lambda: 1_700_000_000.0 + clock.now)
    assert [remaining(throttle.take(b"key-a")) for _ in range(3)] == ["2", "1", "0"]
    clock.now += 20
    refused = throttle.take(b"key-a")
    assert isinstance(refused, Reply)
    assert refused.status == 429
    assert json.loads(refused.body) == {"message": "Too Many Attempts."}
    headers = dict(refused.headers)
    assert headers[b"retry-after"] == b"40"
    assert headers[b"x-ratelimit-remaining"] == b"0"
    assert headers[b"x-ratelimit-reset"] == str(1_700_000_000 + 1000 + 60).encode()

    assert remaining(throttle.take(b"key-b")) == "2"  # another key: its own window

    clock.now += 39.5
    last = throttle.take(b"key-a")
    assert isinstance(last, Reply)
    assert dict(last.headers)[b"retry-after"] == b"1"
    clock.now += 0.5  # the window has ended: a new one opens
    assert remaining(throttle.take(b"key-a")) == "2"


def test_throttle__refused_requests_do_not_push_the_window_back() -> None:
    clock = Clock()
    throttle = Throttle(1, clock=clock)
    assert isinstance(throttle.take(b"k"), Passed)
    for _ in range(10):
        clock.now += 5
        assert isinstance(throttle.take(b"k"), Reply)
    clock.now += 10  # 60 s after the first request
    assert isinstance(throttle.take(b"k"), Passed)
