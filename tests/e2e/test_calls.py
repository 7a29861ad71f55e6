"""Simulated calling through a real server and a real webhook receiver on loopback.

A test creates leads as an app does, moves the simulated clock with
`POST /_proxy/clock`, and checks the listing and every webhook the receiver got:
the statuses a lead goes through, retries, allowed hours and days, lines in
parallel, misbehaving receivers, the seed, and one dialer for two workers.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from leads_proxy.receiver import WebhookReceiver
from tests.support import BUNDLED, Launch, Server, eventually, free_port, key_header

KEY = key_header("5|caller")
ALWAYS = {"id": 1, "name": "Always", "max_calls_in_parallel": 2, "max_retries": 2,
          "retry_interval": 10}  # fmt: skip
TUESDAYS = {"id": 2, "name": "Tuesday mornings", "allowed_days": ["tuesday"],
            "allowed_hours_start_time": "09:00:00", "allowed_hours_end_time": "09:30:00",
            "max_calls_in_parallel": 1, "max_retries": 3, "retry_interval": 5}  # fmt: skip
CYCLE = ("completed", "busy", "no-answer", "failed")
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
LISTED = "%Y-%m-%d %H:%M:%S"
DAY = 86_400


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    running = WebhookReceiver()
    yield running
    running.close()


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    """The bundled fixtures with two campaigns of their own (and the third the leads name)."""
    folder = tmp_path / "calling"
    shutil.copytree(BUNDLED / "leads", folder / "leads", ignore=lambda *_: ["large.json"])
    third = {"id": 3, "name": "Ramadan open house"}
    (folder / "campaigns.json").write_text(json.dumps([ALWAYS, TUESDAYS, third]))
    return folder


def calling(launch: Launch, folder: Path, url: str, *args: str) -> Server:
    return launch(
        "--fixtures", str(folder), "--mock-calls", "on", "--mock-calls-speed", "0",
        "--mock-webhook-url", url, *args,
    )  # fmt: skip


def create(server: Server, number: int, campaign: int, outcome: str | None = None) -> int:
    variables = {"customer_name": f"Lead {number}"}
    if outcome is not None:
        variables["mock_outcome"] = outcome
    body = {
        "phone_number": f"+1415555{number:04d}",
        "campaign_id": campaign,
        "variables": variables,
    }
    answer = server.client.post("/api/user/lead", headers=KEY, json=body)
    assert answer.status_code == 200, answer.text
    lead_id: int = answer.json()["data"]["id"]
    return lead_id


def advance(server: Server, seconds: float) -> None:
    answer = server.client.post("/_proxy/clock", json={"advance": seconds})
    assert answer.status_code == 200, answer.text


def statuses(server: Server, ids: list[int]) -> dict[int, str]:
    listed = server.client.get("/api/user/leads", headers=KEY).json()
    return {lead["id"]: lead["status"] for lead in listed if lead["id"] in ids}


def moment(text: str) -> float:
    return datetime.strptime(text, ISO).replace(tzinfo=UTC).timestamp()


def most_at_once(hooks: list[dict[str, Any]]) -> int:
    """The most calls under way at one moment, from the webhooks' start and end."""
    edges = sorted(
        [(moment(hook["finished_at"]), -1) for hook in hooks]
        + [(moment(hook["created_at"]), 1) for hook in hooks]
    )
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_calls__a_campaign_of_ten_runs_to_its_end_under_an_advanced_clock(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver
) -> None:
    server = calling(launch, campaigns, receiver.url)
    ids = [create(server, number, 1, CYCLE[number % 4]) for number in range(10)]
    assert set(statuses(server, ids).values()) == {"created"}
    etag = server.client.get("/api/user/leads", headers=KEY).headers["etag"]

    advance(server, 5)  # scheduled 5 s after being created
    assert set(statuses(server, ids).values()) == {"scheduled"}
    again = server.client.get("/api/user/leads", headers={**KEY, "If-None-Match": etag})
    assert again.status_code == 200
    advance(server, 5)  # called 5 s later, two lines at once
    assert Counter(statuses(server, ids).values()) == {"processing": 2, "scheduled": 8}
    filtered = server.client.get("/api/user/leads?status=processing&campaign_id=1", headers=KEY)
    assert len({lead["id"] for lead in filtered.json()} & set(ids)) == 2

    advance(server, DAY)
    final = statuses(server, ids)
    for number, lead_id in enumerate(ids):
        ended = "completed" if CYCLE[number % 4] == "completed" else "reached-max-retries"
        assert final[lead_id] == ended
    hooks = receiver.wait(3 + 7 * 2)  # each failing lead is called max_retries (2) times
    assert len(hooks) == 17
    listed = {lead["id"]: lead for lead in server.client.get("/api/user/leads", headers=KEY).json()}
    by_lead: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for hook in hooks:
        by_lead[hook["lead"]["id"]].append(hook)
    assert len({hook["id"] for hook in hooks}) == 17
    for number, lead_id in enumerate(ids):
        lead, calls, outcome = listed[lead_id], by_lead[lead_id], CYCLE[number % 4]
        assert [hook["status"] for hook in calls] == [outcome] * len(calls)
        assert len(calls) == (1 if outcome == "completed" else 2)
        if outcome != "completed":
            assert [hook["lead"]["status"] for hook in calls] == [
                "rescheduled",
                "reached-max-retries",
            ]
            gap = moment(calls[1]["created_at"]) - moment(calls[0]["finished_at"])
            assert gap >= 10 * 60
        last = calls[-1]
        assert last["customer_phone"] == lead["phone_number"]
        assert last["assistant_phone"].startswith("+")
        assert last["input_variables"] == lead["variables"]
        assert last["extracted_variables"]["status"] is (outcome == "completed")
        assert isinstance(last["extracted_variables"]["summary"], str)
        assert bool(last["transcript"]) is (outcome == "completed")
        assert moment(last["created_at"]) <= moment(last["finished_at"])
        assert isinstance(last["duration"], int)
        assert last["duration"] >= 0
        assert last["lead"]["status"] == lead["status"]
        assert last["lead"]["updated_at"] == lead["updated_at"]
        stamped = datetime.strptime(last["finished_at"], ISO).strftime(LISTED)
        assert lead["updated_at"] == stamped
        assert last["lead"]["campaign"]["max_calls_in_parallel"] == 2
    assert most_at_once(hooks) == 2
    deliveries = server.client.get("/_proxy/webhooks").json()["webhooks"]
    assert len(deliveries) == 17
    assert all(found["delivered"] and found["attempts"] == 1 for found in deliveries)
    assert deliveries[0]["call_id"] == max(hook["id"] for hook in hooks)  # newest first


def test_calls__only_in_allowed_days_and_hours_one_line_retries_as_configured(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver
) -> None:
    server = calling(launch, campaigns, receiver.url)
    ids = [create(server, number, 2, "busy") for number in range(3)]
    advance(server, 15 * DAY)
    assert set(statuses(server, ids).values()) == {"reached-max-retries"}
    hooks = receiver.wait(9)
    assert Counter(hook["lead"]["id"] for hook in hooks) == dict.fromkeys(ids, 3)
    for hook in hooks:
        began = datetime.strptime(hook["created_at"], ISO)
        assert began.strftime("%A") == "Tuesday"
        assert "09:00:00" <= began.strftime("%H:%M:%S") <= "09:30:00"
    assert most_at_once(hooks) == 1


def test_calls__only_completed_calls_send_a_webhook_when_asked(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver
) -> None:
    server = calling(launch, campaigns, receiver.url, "--mock-webhook-only-completed")
    done, failing = create(server, 1, 1, "completed"), create(server, 2, 1, "failed")
    advance(server, DAY)
    assert statuses(server, [done, failing]) == {done: "completed", failing: "reached-max-retries"}
    (hook,) = receiver.wait(1)
    assert hook["lead"]["id"] == done
    time.sleep(0.5)  # a webhook for the failed calls would have come by now
    assert len(receiver.payloads) == 1


def test_calls__receivers_that_fail_hang_or_are_absent_are_retried_then_given_up(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver
) -> None:
    server = calling(launch, campaigns, receiver.url, "--mock-webhook-timeout", "1")
    receiver.answer(500)
    create(server, 1, 1, "completed")
    advance(server, DAY)
    eventually(lambda: server.client.get("/_proxy/webhooks").json()["webhooks"][0]["given_up"])
    (given_up,) = server.client.get("/_proxy/webhooks").json()["webhooks"]
    assert (given_up["attempts"], given_up["last_status"], given_up["delivered"]) == (4, 500, False)
    assert receiver.attempts == 4

    receiver.answer(200, hang=3)
    create(server, 2, 1, "completed")
    advance(server, DAY)
    slowest = 0.0
    while not server.client.get("/_proxy/webhooks").json()["webhooks"][0]["given_up"]:
        began = time.monotonic()
        assert server.client.get("/api/user/leads?per_page=5", headers=KEY).status_code == 200
        slowest = max(slowest, time.monotonic() - began)
        time.sleep(0.05)
    assert slowest < 0.5  # a hanging receiver never holds an answer up
    hung = server.client.get("/_proxy/webhooks").json()["webhooks"][0]
    assert (hung["attempts"], hung["last_error"]) == (4, "timed out")

    absent = calling(launch, campaigns, f"http://127.0.0.1:{free_port()}/hook")
    create(absent, 3, 1, "completed")
    advance(absent, DAY)
    eventually(lambda: absent.client.get("/_proxy/webhooks").json()["webhooks"][0]["given_up"])
    (refused,) = absent.client.get("/_proxy/webhooks").json()["webhooks"]
    assert (refused["attempts"], refused["last_error"]) == (4, "could not connect")
    assert "Traceback" not in server.log() + absent.log()
    assert "gave up on the webhook of call" in server.log()


def _run(launch: Launch, campaigns: Path, seed: str) -> list[tuple[Any, ...]]:
    """Eight leads with drawn outcomes, run to their end: each call as (lead, status,
    duration, start from the first call's)."""
    receiver = WebhookReceiver()
    try:
        server = calling(launch, campaigns, receiver.url, "--mock-calls-seed", seed)
        ids = [create(server, number, 1) for number in range(8)]
        advance(server, 2 * DAY)

        def sent() -> list[dict[str, Any]]:
            return list(server.client.get("/_proxy/webhooks").json()["webhooks"])

        eventually(lambda: sent() and all(found["delivered"] for found in sent()))
        hooks = receiver.wait(len(sent()))
        server.stop()
        start = min(moment(hook["created_at"]) for hook in hooks)
        return sorted(
            (
                ids.index(hook["lead"]["id"]),
                hook["status"],
                hook["duration"],
                round(moment(hook["created_at"]) - start),
            )
            for hook in hooks
        )
    finally:
        receiver.close()


def test_calls__the_same_seed_gives_the_same_run(launch: Launch, campaigns: Path) -> None:
    first, second = _run(launch, campaigns, "42"), _run(launch, campaigns, "42")
    assert first == second
    assert len({status for _, status, _, _ in first}) > 1  # drawn, not all alike
    assert _run(launch, campaigns, "43") != first


def test_calls__two_workers_run_one_dialer(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver
) -> None:
    # An hour a second: each lead's two calls, ten minutes apart, within a second or so.
    server = launch(
        "--fixtures", str(campaigns), "--workers", "2", "--mock-calls", "on",
        "--mock-calls-speed", "3600", "--mock-webhook-url", receiver.url,
    )  # fmt: skip
    ids = [create(server, number, 1, "busy") for number in range(6)]
    eventually(lambda: set(statuses(server, ids).values()) == {"reached-max-retries"}, within=30)
    hooks = receiver.wait(12)
    time.sleep(0.5)  # a second dialer's calls would have come by now
    assert len(receiver.payloads) == 12
    assert Counter(hook["lead"]["id"] for hook in receiver.payloads) == dict.fromkeys(ids, 2)
    assert len({hook["id"] for hook in hooks}) == 12


def test_calls__the_clock_refuses_bad_input_and_is_off_without_calls(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver
) -> None:
    server = calling(launch, campaigns, receiver.url, "--admin-token", "clock-admin-1")
    admin = {"Authorization": "Bearer clock-admin-1"}
    assert server.client.post("/_proxy/clock", json={"advance": 5}).status_code == 401
    before = server.client.get("/_proxy/clock").json()["now"]
    bad = [b"{", b"[]", b'{"advance": -1}', b'{"advance": "5"}', b'{"advance": true}',
           b'{"advance": 1e400}', b'{"advance": 1e12}', b'{"advance": 1, "x": 2}']  # fmt: skip
    for body in bad:
        answer = server.client.post("/_proxy/clock", headers=admin, content=body)
        assert answer.status_code in {400, 422}, body
        assert "message" in answer.json()
    assert server.client.get("/_proxy/clock").json()["now"] == before
    moved = server.client.post("/_proxy/clock", headers=admin, json={"advance": 90})
    assert moment(moved.json()["now"]) - moment(before) == pytest.approx(90, abs=0.01)
    back = server.client.delete("/_proxy/clock", headers=admin).json()["now"]
    assert abs(moment(back) - time.time()) < 5

    plain = launch()
    for method in ("GET", "POST", "DELETE"):
        off = plain.client.request(method, "/_proxy/clock", json={"advance": 1})
        assert off.status_code == 409
        assert "--mock-calls on" in off.json()["message"]
    assert plain.client.get("/_proxy/webhooks").status_code == 409
    assert "Traceback" not in server.log()


def test_calls__the_status_page_shows_the_clock_and_each_webhook(
    launch: Launch, campaigns: Path, receiver: WebhookReceiver, browser: Browser, screenshot: Path
) -> None:
    hidden = receiver.url.replace("http://", "http://hook-user:hook-pass@") + "?token=hook-secret"
    server = calling(launch, campaigns, hidden)
    done, failing = create(server, 1, 1, "completed"), create(server, 2, 1, "busy")
    advance(server, DAY)
    receiver.wait(3)
    status = server.client.get("/_proxy/status").json()["calls"]
    assert status["speed"] == 0
    assert status["now"] == server.client.get("/_proxy/clock").json()["now"]
    assert Counter(hook["lead_id"] for hook in status["webhooks"]) == {failing: 2, done: 1}
    assert status["webhooks"][0]["lead_id"] == failing  # its retry came last: newest first
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/_proxy/")
        page.wait_for_function("document.querySelectorAll('#webhooks tr').length === 3")
        rows = page.locator("#webhooks tr").all_inner_texts()
        assert "busy" in rows[0]
        (completed,) = [row for row in rows if "completed" in row]
        assert "delivered" in completed
        assert str(done) in completed
        assert all(receiver.url in row for row in rows)
        shown = page.content()
        assert "hook-secret" not in shown
        assert "hook-pass" not in shown
        assert status["now"] in (page.text_content("#calls") or "")
        page.screenshot(path=screenshot, full_page=True)
    finally:
        context.close()
    plain = launch()
    assert plain.client.get("/_proxy/status").json()["calls"] is None
