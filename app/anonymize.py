"""Replace the personal data in leads with consistent, valid fakes.

Phone numbers become other E.164 numbers with the same country code; strings
in `variables` that look like an email, a phone number or a person's name
become fakes of the same kind. The same input always gives the same fake (a
hash of it picks the fake), so a number that appears twice in a recording is
replaced the same way twice, and re-running gives the same file. Ids,
statuses, timestamps, campaigns and the structure are left as they are.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?[0-9][0-9 ().-]{5,}[0-9]")
NAME_KEY = re.compile(r"name", re.IGNORECASE)
# Two to four capitalized words: "Jane Doe", "Jane Doe Secondary", "Al-Sayed Omar".
NAME_VALUE = re.compile(r"[A-Z][\w'\u2019.-]+(?: [A-Z][\w'\u2019.-]+){1,3}")
# ITU country codes of one or two digits; every other code has three.
SHORT_CODES = frozenset(
    [
        "1",
        "7",
        "20",
        "27",
        "30",
        "31",
        "32",
        "33",
        "34",
        "36",
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "51",
        "52",
        "53",
        "54",
        "55",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "64",
        "65",
        "66",
        "81",
        "82",
        "84",
        "86",
        "90",
        "91",
        "92",
        "93",
        "94",
        "95",
        "98",
    ]
)


def _digest(kind: str, value: str) -> bytes:
    return hashlib.sha256(f"leads-proxy:{kind}:{value}".encode()).digest()


def _digits(seed: bytes, count: int) -> str:
    number = int.from_bytes(seed, "big")
    out = []
    for _ in range(count):
        number, digit = divmod(number, 10)
        out.append(str(digit))
    return "".join(out)


def country_code(e164: str) -> str:
    digits = e164.lstrip("+")
    for length in (1, 2):
        if digits[:length] in SHORT_CODES:
            return digits[:length]
    return digits[:3]


def fake_phone(phone: str) -> str:
    """Another number of the same shape: E.164 stays E.164, with the same country code."""
    digits = re.sub(r"\D", "", phone)
    seed = _digest("phone", digits)
    keep = len(country_code(digits)) if phone.lstrip().startswith("+") else 0
    fake = digits[:keep] + str(1 + seed[0] % 9) + _digits(seed[1:], len(digits) - keep - 1)
    if fake == digits:  # astronomically rare; still never the original
        fake = fake[:keep] + str(1 + int(fake[keep]) % 9) + fake[keep + 1 :]
    it = iter(fake)
    return re.sub(r"\d", lambda _match: next(it), phone)


def fake_email(email: str) -> str:
    return f"user-{_digest('email', email.lower()).hex()[:10]}@example.com"


# Fake names come from their own lists, apart from the generator's, and never
# reuse a word of any string in the recording being anonymized.
FAKE_FIRST = (
    "Avery", "Blake", "Casey", "Devon", "Emerson", "Finley", "Harper", "Jordan", "Kendall",
    "Logan", "Morgan", "Parker", "Quinn", "Reese", "Riley", "Rowan", "Sage", "Skyler",
)  # fmt: skip
FAKE_LAST = (
    "Ashford", "Brightwell", "Calloway", "Dunmore", "Everly", "Fairbanks", "Greenleaf",
    "Hollis", "Ivers", "Jessup", "Kingsley", "Lockwood", "Merriman", "Northcott",
)  # fmt: skip


def fake_name(name: str, avoid: frozenset[str] = frozenset()) -> str:
    """A fake full name sharing no word with the original, nor with `avoid`."""
    seed = _digest("name", name)
    own = set(name.split())  # looked up beside `avoid`, never merged: that copy was O(words)
    for step in range(len(FAKE_FIRST) * len(FAKE_LAST)):
        first = FAKE_FIRST[(seed[0] + step) % len(FAKE_FIRST)]
        last = FAKE_LAST[(seed[1] + step // len(FAKE_FIRST)) % len(FAKE_LAST)]
        if first not in avoid and last not in avoid and first not in own and last not in own:
            return f"{first} {last}"
    return f"Person {seed.hex()[:8]}"


def _string(key: str, value: str, avoid: frozenset[str]) -> str:
    if EMAIL.fullmatch(value.strip()):
        return fake_email(value.strip())
    if PHONE.fullmatch(value.strip()):
        return fake_phone(value.strip())
    if NAME_KEY.search(key) or NAME_VALUE.fullmatch(value.strip()):
        return fake_name(value, avoid)
    return value


def _variables(data: Any, avoid: frozenset[str], key: str = "") -> Any:
    if isinstance(data, dict):
        return {name: _variables(value, avoid, str(name)) for name, value in data.items()}
    if isinstance(data, list):
        return [_variables(item, avoid, key) for item in data]
    if isinstance(data, str):
        return _string(key, data, avoid)
    return data


def _words(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for value in data.values():
            yield from _words(value)
    elif isinstance(data, list):
        for item in data:
            yield from _words(item)
    elif isinstance(data, str):
        yield from data.split()


def _contact(contact: dict[str, Any], avoid: frozenset[str]) -> dict[str, Any]:
    out = dict(contact)
    if isinstance(out.get("phone_number"), str):
        out["phone_number"] = fake_phone(out["phone_number"])
    if "variables" in out:
        out["variables"] = _variables(out["variables"], avoid)
    return out


def anonymize_leads(leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same leads with phone numbers, names and emails replaced by fakes."""
    avoid = frozenset(_words(leads))
    result = []
    for lead in leads:
        out = _contact(lead, avoid)
        if isinstance(out.get("secondary_contacts"), list):
            out["secondary_contacts"] = [
                _contact(contact, avoid) if isinstance(contact, dict) else contact
                for contact in out["secondary_contacts"]
            ]
        result.append(out)
    return result
