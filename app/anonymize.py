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
from typing import Any

from app.generate import FIRST_NAMES, LAST_NAMES

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
    """A valid E.164 number with the same country code and length, never the same number."""
    digits = re.sub(r"\D", "", phone)
    if not phone.strip().startswith("+") or not 7 <= len(digits) <= 15:
        # Not E.164: keep the shape, change every digit.
        fake = _digits(_digest("phone", phone), len(digits))
        it = iter(fake)
        return re.sub(r"\d", lambda _match: next(it), phone)
    code = country_code(phone)
    rest = len(digits) - len(code)
    seed = _digest("phone", digits)
    national = str(1 + seed[0] % 9) + _digits(seed[1:], rest - 1)
    if national == digits[len(code) :]:  # astronomically rare; still never the original
        national = str(1 + (int(national[0]) % 9)) + national[1:]
    return f"+{code}{national}"


def fake_email(email: str) -> str:
    return f"user-{_digest('email', email.lower()).hex()[:10]}@example.com"


def fake_name(name: str) -> str:
    """A fake full name sharing no word with the original."""
    seed = _digest("name", name)
    words = set(name.split())
    for step in range(len(FIRST_NAMES)):
        first = FIRST_NAMES[(seed[0] + step) % len(FIRST_NAMES)]
        last = LAST_NAMES[(seed[1] + step) % len(LAST_NAMES)]
        if first not in words and last not in words:
            return f"{first} {last}"
    return f"Person {seed.hex()[:6]}"


def _string(key: str, value: str) -> str:
    if EMAIL.fullmatch(value.strip()):
        return fake_email(value.strip())
    if PHONE.fullmatch(value.strip()):
        return fake_phone(value.strip())
    if NAME_KEY.search(key) or NAME_VALUE.fullmatch(value.strip()):
        return fake_name(value)
    return value


def _variables(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {name: _variables(value, str(name)) for name, value in data.items()}
    if isinstance(data, list):
        return [_variables(item, key) for item in data]
    if isinstance(data, str):
        return _string(key, data)
    return data


def _contact(contact: dict[str, Any]) -> dict[str, Any]:
    out = dict(contact)
    if isinstance(out.get("phone_number"), str):
        out["phone_number"] = fake_phone(out["phone_number"])
    if "variables" in out:
        out["variables"] = _variables(out["variables"])
    return out


def anonymize_leads(leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same leads with phone numbers, names and emails replaced by fakes."""
    result = []
    for lead in leads:
        out = _contact(lead)
        if isinstance(out.get("secondary_contacts"), list):
            out["secondary_contacts"] = [
                _contact(contact) if isinstance(contact, dict) else contact
                for contact in out["secondary_contacts"]
            ]
        result.append(out)
    return result
