"""The rules of the simulated dialer, as pure functions: when a campaign may call,
how a call ends, and what the post-call webhook says.

Times are simulated seconds since the epoch, UTC. A campaign calls on its
`allowed_days` between `allowed_hours_start_time` and `allowed_hours_end_time`
(both included; a start after the end is a window across midnight, the day
being the day of its start); a `draft` campaign never calls. A call's outcome
is the lead's `mock_outcome` variable when it names one, else drawn from a
random source seeded by the run's seed, the lead and the attempt, so the same
seed gives the same run whatever the order in which leads are reached.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

DAY = 86_400
SCHEDULE_AFTER: Final = 5.0  # a created lead is scheduled this long after it is created
DIAL_AFTER: Final = 5.0  # and called no sooner than this after being scheduled
OUTCOMES: Final = ("completed", "no-answer", "busy", "failed")
WEIGHTS: Final = (50, 25, 15, 10)  # the drawn outcomes, in percent
COMPLETED = "completed"
WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
ASSISTANT_PHONE: Final = "+14155550100"  # the made-up number the simulated assistant calls from
ISO = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True, slots=True)
class Call:
    """How one attempt goes: its outcome and its length in seconds."""

    outcome: str
    duration: int

    @property
    def completed(self) -> bool:
        return self.outcome == COMPLETED


def seconds_of(clock_time: str) -> int:
    hours, minutes, seconds = (int(part) for part in clock_time.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def is_open(at: float, campaign: Mapping[str, Any]) -> bool:
    """Whether the campaign may begin a call at `at`."""
    if campaign.get("status") == "draft":
        return False
    start = seconds_of(campaign["allowed_hours_start_time"])
    end = seconds_of(campaign["allowed_hours_end_time"])
    moment = int(at) % DAY
    day = int(at) // DAY
    if start <= end:
        return start <= moment <= end and _weekday(day) in campaign["allowed_days"]
    if moment >= start:  # the evening part of a window across midnight
        return _weekday(day) in campaign["allowed_days"]
    return moment <= end and _weekday(day - 1) in campaign["allowed_days"]


def next_open(at: float, campaign: Mapping[str, Any]) -> float | None:
    """The first moment from `at` on when the campaign may call; None if never."""
    if is_open(at, campaign):
        return at
    if campaign.get("status") == "draft" or not campaign["allowed_days"]:
        return None
    start = seconds_of(campaign["allowed_hours_start_time"])
    midnight = int(at) // DAY * DAY
    for days in range(9):  # every weekday is reached within a week and a day
        for moment in (midnight + days * DAY, midnight + days * DAY + start):
            if moment >= at and is_open(moment, campaign):
                return float(moment)
    return None


def _weekday(day: int) -> str:
    return WEEKDAYS[(day + 3) % 7]  # 1970-01-01 was a Thursday


def call_of(seed: int, lead: Mapping[str, Any], attempt: int) -> Call:
    """How the lead's `attempt`-th call goes (from 1)."""
    source = random.Random(f"{seed}:{lead['id']}:{attempt}:{lead['phone_number']}")  # noqa: S311
    forced = lead.get("variables", {}).get("mock_outcome")
    drawn = source.choices(OUTCOMES, WEIGHTS)[0]
    outcome = forced if forced in OUTCOMES else drawn
    lengths = {"completed": (30, 240), "no-answer": (20, 40), "busy": (2, 6), "failed": (1, 3)}
    low, high = lengths[outcome]
    return Call(outcome, source.randint(low, high))


def iso(at: float) -> str:
    """The webhook's time format: ISO-8601 in UTC with microseconds."""
    return time.strftime(ISO, time.gmtime(at)) + f".{int(at % 1 * 1_000_000):06d}Z"


def payload(
    call_id: int,
    call: Call,
    lead: Mapping[str, Any],
    campaign: Mapping[str, Any],
    *,
    began: float,
    ended: float,
) -> dict[str, Any]:
    """The post-call webhook's body, with `lead` as the listing shows it after the call."""
    variables = lead["variables"]
    name = next(
        (str(variables[field]) for field in ("customer_name", "name") if variables.get(field)),
        "there",
    )
    said = {
        "completed": f"The call with {name} went through; they are interested.",
        "no-answer": "Nobody answered.",
        "busy": "The line was busy.",
        "failed": "The call could not be connected.",
    }[call.outcome]
    transcript = (
        f"Assistant: Hello {name}, this is a simulated call from leads-proxy.\n"
        "Customer: Hello! Yes, tell me more.\n"
        "Assistant: Thank you, we will be in touch."
        if call.completed
        else ""
    )
    return {
        "id": call_id,
        "customer_phone": lead["phone_number"],
        "assistant_phone": ASSISTANT_PHONE,
        "duration": call.duration if call.outcome in {COMPLETED, "no-answer"} else 0,
        "status": call.outcome,
        "extracted_variables": {"status": call.completed, "summary": said},
        "input_variables": variables,
        "transcript": transcript,
        "created_at": iso(began),
        "finished_at": iso(ended),
        "lead": {
            "id": lead["id"],
            "phone_number": lead["phone_number"],
            "variables": variables,
            "status": lead["status"],
            "created_at": lead["created_at"],
            "updated_at": lead["updated_at"],
            "campaign": dict(campaign),
        },
    }
