"""Realistic, valid, reproducible leads: the same seed always gives the same leads.

Leads come from the regions the API's users call (the Gulf and Egypt first),
with phone numbers libphonenumber holds valid for their country, names in the
region's script (Arabic, or the Latin spelling; Faker's locales elsewhere) and
email addresses made from those names.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import random
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

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

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
CAMPAIGN_WORDS = (
    ("Spring", "Summer", "Autumn", "Winter", "Ramadan", "Q3", "VIP", "Dubai", "Riyadh", "Cairo"),
    ("renewals", "open house", "follow-up", "survey", "reactivation", "onboarding", "promo"),
)

# Arabic names as they are written, with the Latin spelling their owners use
# in an email address: Faker's Arabic locales have the names but no spelling.
ARABIC_FIRST = (
    ("محمد", "Mohammed"), ("أحمد", "Ahmed"), ("عبدالله", "Abdullah"), ("خالد", "Khalid"),
    ("عمر", "Omar"), ("يوسف", "Youssef"), ("علي", "Ali"), ("حسن", "Hassan"),
    ("فيصل", "Faisal"), ("سلطان", "Sultan"), ("ماجد", "Majid"), ("طارق", "Tariq"),
    ("سعود", "Saud"), ("إبراهيم", "Ibrahim"), ("مصطفى", "Mostafa"), ("كريم", "Karim"),
    ("راشد", "Rashid"), ("ناصر", "Nasser"), ("زياد", "Ziad"), ("هشام", "Hisham"),
    ("فاطمة", "Fatima"), ("مريم", "Mariam"), ("نور", "Nour"), ("ليلى", "Layla"),
    ("سارة", "Sara"), ("عائشة", "Aisha"), ("هند", "Hind"), ("ريم", "Reem"),
    ("منى", "Mona"), ("دانة", "Dana"), ("لطيفة", "Latifa"), ("نوال", "Nawal"),
    ("ياسمين", "Yasmin"), ("هالة", "Hala"), ("رنا", "Rana"), ("شيماء", "Shaimaa"),
)  # fmt: skip
ARABIC_FAMILY = (
    ("الحربي", "Al-Harbi"), ("العتيبي", "Al-Otaibi"), ("القحطاني", "Al-Qahtani"),
    ("الشمري", "Al-Shammari"), ("الدوسري", "Al-Dosari"), ("الغامدي", "Al-Ghamdi"),
    ("الزهراني", "Al-Zahrani"), ("المطيري", "Al-Mutairi"), ("المنصوري", "Al-Mansouri"),
    ("الكعبي", "Al-Kaabi"), ("الهاشمي", "Al-Hashimi"), ("النعيمي", "Al-Nuaimi"),
    ("الشامسي", "Al-Shamsi"), ("المهيري", "Al-Muhairi"), ("السويدي", "Al-Suwaidi"),
    ("حداد", "Haddad"), ("منصور", "Mansour"), ("ناصر", "Nasser"), ("خوري", "Khoury"),
    ("فاروق", "Farouk"), ("عبدالرحمن", "Abdelrahman"), ("صالح", "Saleh"),
    ("إبراهيم", "Ibrahim"), ("السيد", "El-Sayed"), ("مصطفى", "Mostafa"),
    ("عبدالعزيز", "Abdelaziz"), ("الشريف", "El-Sherif"), ("حسين", "Hussein"),
)  # fmt: skip
ARABIC_SCRIPT_SHARE = 0.6  # the rest write their name in Latin letters

# Where leads are, and how often: (region, weight, names, city choices).
# "ar" names come from the table above; the others from Faker's locales.
REGIONS = (
    ("AE", 30, "ar", ("Dubai", "Abu Dhabi", "Sharjah")),
    ("SA", 30, "ar", ("Riyadh", "Jeddah", "Dammam")),
    ("EG", 10, "ar", ("Cairo", "Alexandria", "Giza")),
    ("US", 15, "en_US", ("New York", "Houston", "Chicago")),
    ("GB", 7, "en_GB", ("London", "Manchester", "Leeds")),
    ("DE", 5, "de_DE", ("Berlin", "Hamburg", "Munich")),
    ("FR", 3, "fr_FR", ("Paris", "Lyon", "Marseille")),
)


@dataclass(frozen=True)
class _Names:
    """One locale's names, ready to draw from (weights as Faker gives them)."""

    first: tuple[str, ...]
    first_weights: tuple[float, ...]
    last: tuple[str, ...]
    last_weights: tuple[float, ...]

    @classmethod
    def of(cls, locale: str) -> _Names:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        first = {**_weighted(provider.first_names_male), **_weighted(provider.first_names_female)}
        last = _weighted(provider.last_names)
        return cls(
            tuple(first), tuple(accumulate(first.values())),
            tuple(last), tuple(accumulate(last.values())),
        )  # fmt: skip

    def draw(self, rng: random.Random) -> tuple[str, str]:
        first = rng.choices(self.first, cum_weights=self.first_weights)[0]
        return first, rng.choices(self.last, cum_weights=self.last_weights)[0]


def _weighted(names: Sequence[str] | Mapping[str, float]) -> dict[str, float]:
    if isinstance(names, Mapping):
        return {name: float(weight) for name, weight in names.items()}
    return dict.fromkeys(names, 1.0)


@functools.cache
def _names(locale: str) -> _Names:
    return _Names.of(locale)


PREFIX_DIGITS = 3  # a number's first national digits: what makes it valid or not
PREFIX_TRIES = 4


@dataclass(frozen=True)
class _PhonePlan:
    """How a region's mobile numbers look, from libphonenumber's metadata."""

    country_code: int
    length: int  # of the national number, as the region's example mobile number
    prefixes: tuple[str, ...]  # first digits of numbers of that length that can be mobile
    patterns: tuple[re.Pattern[str], ...]  # what a valid mobile national number matches

    def valid(self, national: str) -> bool:
        return all(pattern.fullmatch(national) for pattern in self.patterns)


@functools.cache
def _phone_plan(region: str) -> _PhonePlan:
    """The plan for `region`: a prefix counts when numbers starting with it held valid
    four times out of four (tails drawn with a fixed seed: one plan in every process)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if metadata is None or example is None:  # pragma: no cover - every region above has both
        raise ValueError(f"no mobile numbers known for {region}")
    patterns = tuple(
        re.compile(desc.national_number_pattern or "")
        for desc in (metadata.general_desc, metadata.mobile)
        if desc is not None
    )
    plan = _PhonePlan(
        int(example.country_code or 0), len(str(example.national_number)), (), patterns
    )
    rng = random.Random(region)  # noqa: S311 - a fixed plan, not a secret
    rest = plan.length - PREFIX_DIGITS
    prefixes = tuple(
        prefix
        for prefix in (f"{n:03d}" for n in range(100, 1000))
        if all(
            plan.valid(prefix + f"{rng.randrange(10**rest):0{rest}d}") for _ in range(PREFIX_TRIES)
        )
    )
    return dataclasses.replace(plan, prefixes=prefixes)


def _phone(rng: random.Random, region: str) -> str:
    """An E.164 mobile number that libphonenumber holds valid for `region`."""
    plan = _phone_plan(region)
    rest = plan.length - PREFIX_DIGITS
    while True:  # a drawn prefix is valid; its tail almost always
        national = rng.choice(plan.prefixes) + f"{rng.randrange(10**rest):0{rest}d}"
        if plan.valid(national):
            return f"+{plan.country_code}{national}"


EPOCH = datetime(2025, 1, 1)
SPAN_SECONDS = int(timedelta(days=180).total_seconds())


def _timestamps(rng: random.Random) -> tuple[str, str]:
    created = EPOCH + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    updated = created + timedelta(seconds=rng.choice((0, 0, rng.randrange(1, 14 * 86_400))))
    return created.strftime("%Y-%m-%d %H:%M:%S"), updated.strftime("%Y-%m-%d %H:%M:%S")


@functools.lru_cache(maxsize=65536)
def _ascii(name: str) -> str:
    """A name as it goes into an email address: `Jürgen O'Neil` gives `jurgenoneil`."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(char for char in folded.lower() if char.isalnum())


def _person(rng: random.Random, region: tuple[str, int, str, tuple[str, ...]]) -> dict[str, Any]:
    """A name in the region's script, and an email address made from that name."""
    _, _, locale, cities = region
    if locale == "ar":
        (first, first_latin), (last, last_latin) = (
            rng.choice(ARABIC_FIRST),
            rng.choice(ARABIC_FAMILY),
        )
        if rng.random() >= ARABIC_SCRIPT_SHARE:
            first, last = first_latin, last_latin
    else:
        first, last = first_latin, last_latin = _names(locale).draw(rng)
    handle = f"{_ascii(first_latin)}.{_ascii(last_latin)}"
    variables: dict[str, Any] = {
        "customer_name": f"{first} {last}",
        "email": f"{handle}{rng.randrange(100)}@{rng.choice(EMAIL_DOMAINS)}",
    }
    if rng.random() < 0.4:
        variables["city"] = rng.choice(cities)
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
    regions = list(accumulate(region[1] for region in REGIONS))
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    leads: list[dict[str, Any]] = []
    next_id = 1
    for made in range(1, count + 1):
        campaign = rng.choice(campaigns)
        created_at, updated_at = _timestamps(rng)
        lead_id, next_id = next_id, next_id + 1
        contacts = []
        region = rng.choices(REGIONS, cum_weights=regions)[0]
        for _ in range(rng.choices((0, 1, 2), weights=(70, 22, 8))[0]):
            contact_created, contact_updated = _timestamps(rng)
            contacts.append(
                {
                    "id": next_id,
                    "phone_number": _phone(rng, region[0]),
                    "variables": _person(rng, region),
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
                "phone_number": _phone(rng, region[0]),
                "variables": _person(rng, region),
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
