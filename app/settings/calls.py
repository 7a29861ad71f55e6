"""The settings of mock mode's simulated calling (`mock.calling`, `mock.dialer`).

Declared apart from the rest and mixed into `Settings`: each is still one flag
with an env twin (`--mock-calls` is `LEADS_PROXY_MOCK_CALLS`), in its own
group of `serve --help`.
"""

from __future__ import annotations

from pydantic import HttpUrl
from pydantic_settings import BaseSettings

from .field import setting
from .values import Switch

MAX_SPEED = 1_000_000.0


class CallSettings(BaseSettings):
    """`--mock-calls` and what goes with it."""

    mock_calls: Switch = setting(
        Switch.OFF,
        "mock mode: call the leads that keys create, moving their statuses, on a "
        "simulated clock (POST /_proxy/clock advances it)",
        group="calls",
    )
    mock_calls_seed: int = setting(
        0,
        "the seed of the calls' drawn outcomes: the same seed, the same run",
        group="calls",
        metavar="N",
        ge=0,
        le=2**63 - 1,
    )
    mock_calls_speed: float = setting(
        1.0,
        "simulated seconds per real second (1: real time; 0: only POST /_proxy/clock moves it)",
        group="calls",
        metavar="X",
        ge=0,
        le=MAX_SPEED,
    )
    mock_webhook_url: HttpUrl | None = setting(
        None,
        "POST the post-call webhook here after each simulated call",
        group="calls",
        metavar="URL",
        expected="an http or https URL like http://127.0.0.1:9000/webhook",
    )
    mock_webhook_only_completed: Switch = setting(
        Switch.OFF,
        "send the webhook for completed calls only, as the platform's option does",
        group="calls",
        bare="on",
    )
    mock_webhook_timeout: float = setting(
        5.0,
        "seconds a webhook receiver has to answer each attempt",
        group="calls",
        metavar="SECONDS",
        gt=0,
        le=60,
    )
