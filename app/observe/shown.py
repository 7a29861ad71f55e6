"""What a log line or a view shows of a request: phone numbers masked, text escaped.

One rule for every place a path or a query is written down (the journal, the
status data, text and JSON access lines): a phone number (7 or more digits,
with + ( ) - . or spaces between; not a date) keeps only its last 2 digits.
A query is looked at as PHP reads it (percent-decoded, `+` a space), so a
number cannot hide behind its encoding; a query with nothing to mask is shown
as it came.

Text lines escape what a terminal or a log reader would act on, as nginx
does: control characters, DEL, `"` and `\\` become `\\xHH`, and the other
characters that are not printable (NEL, U+2028, U+2029 and their kind, which
some readers take as line ends) `\\uHHHH`. Each check is one regex search at C
speed; work is done only when something is found.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlencode

_PHONE = re.compile(r"(\+?)(\d[\d ().-]{4,}\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MIN_DIGITS = 7  # the shortest phone numbers (E.164 has 7 to 15)
KEEP = 2  # digits left at the end of a masked number
# A raw query that may hold a number: a run that could be one, or an encoding.
_MAYBE_PHONE = re.compile(rb"[%+]|\d[\d ().-]{4,}\d")
_MAYBE_PHONE_TEXT = re.compile(r"\d[\d ().-]{4,}\d")
# What a text line shows as it is: printable ASCII but the quote and the backslash.
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_UNSAFE_TOKEN = re.compile(r"[^\x21\x23-\x5b\x5d-\x7e]")  # and no space


def mask_phones(text: str) -> str:
    """Every phone number in `text` with all but its last 2 digits masked."""
    if _MAYBE_PHONE_TEXT.search(text) is None:
        return text
    return _PHONE.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    digits = match.group(2)
    count = sum(char.isdigit() for char in digits)
    if count < MIN_DIGITS or _DATE.fullmatch(digits):
        return match.group(0)
    out = []
    for char in digits:
        if char.isdigit():
            count -= 1
            out.append(char if count < KEEP else "*")
        else:
            out.append(char)
    return match.group(1) + "".join(out)


def shown_query(query: bytes) -> str:
    """A raw query as it may be shown: as it came when it holds no phone number, else
    decoded, masked and encoded again (`*`, `+` and spaces left as they are)."""
    text = query.decode("latin-1")
    if _MAYBE_PHONE.search(query) is None:
        return text
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [(mask_phones(name), mask_phones(value)) for name, value in pairs]
    if masked == pairs:
        return text
    return urlencode(masked, safe="*+ ")


def escaped(text: str, *, spaces: bool = True) -> str:
    """`text` safe to write into a text line: `\\xHH` / `\\uHHHH` for what is not printable
    ASCII, and for `"` and `\\` (and for spaces too, with `spaces=False`)."""
    unsafe = _UNSAFE if spaces else _UNSAFE_TOKEN
    if unsafe.search(text) is None:
        return text
    return unsafe.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code > 0x7F and char.isprintable():
        return char  # a letter of another alphabet: shown, not escaped
    if code <= 0xFF:
        return f"\\x{code:02X}"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"


def shown_client(host: object) -> str:
    """A client address for a text line: an IP address as it is (what a trusted proxy's
    X-Forwarded-For named), anything else escaped into one token."""
    text = str(host)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return escaped(text, spaces=False) or "-"
    return text
