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


# Mobile number plans: E.164 prefix, then that many more digits (the first
# not 0). Listed twice where a country should come up more often.
PHONE_PLANS = (
    ("+1", 10), ("+1", 10), ("+447", 9), ("+9715", 8), ("+9715", 8),
    ("+9665", 8), ("+9665", 8), ("+201", 9), ("+4915", 9),
)  # fmt: skip


def _phone(rng: random.Random) -> str:
    prefix, digits = rng.choice(PHONE_PLANS)
    return f"{prefix}{rng.randrange(1, 10)}{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


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
                    "phone_number": _phone(rng),
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
                "phone_number": _phone(rng),
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
