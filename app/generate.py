"""Realistic, valid, reproducible leads: the same seed always gives the same leads."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

# Status weights roughly as a live campaign looks: most leads done or waiting.
STATUS_WEIGHTS = {
    "created": 30,
    "scheduled": 15,
    "processing": 5,
    "completed": 30,
    "rescheduled": 10,
    "reached-max-retries": 7,
    "blacklisted": 3,
}

FIRST_NAMES = (
    "Ahmed", "Fatima", "Omar", "Layla", "Youssef", "Nour", "Khalid", "Sara", "Hassan", "Mariam",
    "John", "Emily", "Michael", "Sophie", "David", "Olivia", "Lukas", "Anna", "Pierre", "Camille",
)  # fmt: skip
LAST_NAMES = (
    "Al-Sayed", "Haddad", "Mansour", "Nasser", "Khoury", "Farouk", "Rahman", "Saleh",
    "Smith", "Johnson", "Brown", "Miller", "Wilson", "Schmidt", "Dubois", "Martin",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
CAMPAIGN_WORDS = (
    ("Spring", "Summer", "Autumn", "Winter", "Ramadan", "Q3", "VIP", "Dubai", "Riyadh", "Cairo"),
    ("renewals", "open house", "follow-up", "survey", "reactivation", "onboarding", "promo"),
)
CITIES = ("Dubai", "Riyadh", "Cairo", "London", "Berlin", "Paris", "New York", "Toronto")


def _us(rng: random.Random) -> str:
    return f"+1{rng.randrange(201, 990)}{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"


def _uk(rng: random.Random) -> str:
    return f"+447{rng.randrange(100, 1000)}{rng.randrange(1_000_000):06d}"


def _uae(rng: random.Random) -> str:
    return f"+9715{rng.choice('02458')}{rng.randrange(10_000_000):07d}"


def _saudi(rng: random.Random) -> str:
    return f"+9665{rng.choice('0345')}{rng.randrange(10_000_000):07d}"


def _egypt(rng: random.Random) -> str:
    return f"+201{rng.choice('0125')}{rng.randrange(100_000_000):08d}"


def _germany(rng: random.Random) -> str:
    return f"+4915{rng.randrange(10, 80)}{rng.randrange(10_000_000):07d}"


PHONE_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    _us, _us, _uk, _uae, _uae, _saudi, _saudi, _egypt, _germany,
)  # fmt: skip

EPOCH = datetime(2025, 1, 1)
SPAN_SECONDS = int(timedelta(days=180).total_seconds())


def _timestamps(rng: random.Random) -> tuple[str, str]:
    created = EPOCH + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    updated = created + timedelta(seconds=rng.choice((0, 0, rng.randrange(1, 14 * 86_400))))
    return created.strftime("%Y-%m-%d %H:%M:%S"), updated.strftime("%Y-%m-%d %H:%M:%S")


def _person(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    handle = f"{first}.{last}".lower().replace("-", "")
    variables: dict[str, Any] = {
        "customer_name": f"{first} {last}",
        "email": f"{handle}{rng.randrange(100)}@{rng.choice(EMAIL_DOMAINS)}",
    }
    if rng.random() < 0.4:
        variables["city"] = rng.choice(CITIES)
    return variables


def _campaigns(rng: random.Random, count: int) -> list[dict[str, Any]]:
    wanted = max(3, min(50, count // 200))
    names = [f"{a} {b}" for a in CAMPAIGN_WORDS[0] for b in CAMPAIGN_WORDS[1]]
    rng.shuffle(names)
    return [{"id": index + 1, "name": names[index % len(names)]} for index in range(wanted)]


def generate_leads(
    count: int,
    *,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """`count` leads that validate against the documented schema.

    Ids are unique across leads and secondary contacts (both are leads
    upstream). `progress`, if given, is called with the number made so far
    every 1,000 leads and at the end.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    campaigns = _campaigns(rng, count)
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    leads: list[dict[str, Any]] = []
    next_id = 1
    for made in range(1, count + 1):
        campaign = rng.choice(campaigns)
        created_at, updated_at = _timestamps(rng)
        lead_id, next_id = next_id, next_id + 1
        contacts = []
        for _ in range(rng.choices((0, 1, 2), weights=(70, 22, 8))[0]):
            contact_created, contact_updated = _timestamps(rng)
            contacts.append(
                {
                    "id": next_id,
                    "phone_number": rng.choice(PHONE_MAKERS)(rng),
                    "variables": _person(rng),
                    "status": "created",
                    "created_at": contact_created,
                    "updated_at": contact_updated,
                }
            )
            next_id += 1
        leads.append(
            {
                "id": lead_id,
                "campaign_id": campaign["id"],
                "phone_number": rng.choice(PHONE_MAKERS)(rng),
                "variables": _person(rng),
                "status": rng.choices(statuses, weights)[0],
                "created_at": created_at,
                "updated_at": updated_at,
                "campaign": dict(campaign),
                "secondary_contacts": contacts,
            }
        )
        if progress is not None and (made % 1000 == 0 or made == count):
            progress(made)
    return leads
