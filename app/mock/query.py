"""The leads listing's query string: filters and Laravel-style pagination.

Validation follows the parent platform (Laravel): the last of repeated values
wins, it is trimmed as PHP's `trim` trims (TrimStrings) and counts as not given
when empty (ConvertEmptyStringsToNull), unknown parameters are ignored, and bad
values produce the Laravel 422 body with one message list per field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from ..http.canonical import php_name, php_trim

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
FILTERS = ("status", "campaign_id", "phone_number", "date_from", "date_to")
PAGING = ("page", "per_page")
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")
MAX_WHOLE_NUMBER = 10**18 - 1  # the most WHOLE_NUMBER reads


class QueryError(ValueError):
    """Bad query values, in the shape of Laravel's validation errors."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(self.message)

    @property
    def message(self) -> str:
        messages = [message for field in self.errors.values() for message in field]
        more = len(messages) - 1
        if more == 0:
            return messages[0]
        return f"{messages[0]} (and {more} more error{'s' if more > 1 else ''})"

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors}


@dataclass(frozen=True, slots=True)
class LeadsQuery:
    """A validated query: what to keep, and which page of it (if any) to answer."""

    status: str | None = None
    campaign_id: int | None = None
    phone_number: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int | None = None
    per_page: int | None = None
    # The non-paging parameters, in order, kept for the paginator's page URLs.
    carried: tuple[tuple[str, str], ...] = ()

    @property
    def filtered(self) -> bool:
        return any(getattr(self, name) is not None for name in FILTERS)

    @property
    def paginated(self) -> bool:
        return self.page is not None or self.per_page is not None

    def select(self, leads: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The leads that pass every filter, in their original order."""
        first = self.date_from.isoformat() if self.date_from else None
        last = self.date_to.isoformat() if self.date_to else None
        return [
            lead
            for lead in leads
            if (self.status is None or lead["status"] == self.status)
            and (self.campaign_id is None or lead["campaign_id"] == self.campaign_id)
            and (self.phone_number is None or self.phone_number in lead["phone_number"])
            # created_at starts with YYYY-MM-DD, so string order is date order.
            and (first is None or lead["created_at"][:10] >= first)
            and (last is None or lead["created_at"][:10] <= last)
        ]


def parse_query(pairs: Iterable[tuple[str, str]]) -> LeadsQuery:
    """Validate the query string's pairs; raise QueryError listing every bad field."""
    given: dict[str, str] = {}
    carried: list[tuple[str, str]] = []
    for given_name, value in pairs:
        name = php_name(given_name.encode("utf-8", "surrogateescape")).decode(
            "utf-8", "surrogateescape"
        )
        if name != "page":
            carried.append((name, value))
        if trimmed := php_trim(value):
            given[name] = trimmed
        else:  # null, and the last value wins
            given.pop(name, None)
    errors: dict[str, list[str]] = {}

    def integer(name: str, low: int, high: int | None) -> int | None:
        raw = given.get(name)
        if raw is None:
            return None
        label = name.replace("_", " ")
        if not WHOLE_NUMBER.fullmatch(raw):
            errors[name] = [f"The {label} field must be an integer."]
            return None
        number = int(raw)
        if high is None and number < low:
            errors[name] = [f"The {label} field must be at least {low}."]
        elif high is not None and not low <= number <= high:
            errors[name] = [f"The {label} field must be between {low} and {high}."]
        return number

    def day(name: str) -> date | None:
        raw = given.get(name)
        if raw is None:
            return None
        # fromisoformat alone would also take 20250630 or 2025-W27-1.
        if len(raw) == 10 and raw[4] == raw[7] == "-":
            try:
                return date.fromisoformat(raw)
            except ValueError:
                pass
        errors[name] = [f"The {name.replace('_', ' ')} field must match the format Y-m-d."]
        return None

    query = LeadsQuery(
        status=given.get("status"),
        campaign_id=integer("campaign_id", 1, None),
        # A '+' that was not percent-encoded arrives as a space: trimmed above.
        phone_number=given.get("phone_number"),
        date_from=day("date_from"),
        date_to=day("date_to"),
        page=integer("page", 1, None),
        per_page=integer("per_page", 1, MAX_PER_PAGE),
        carried=tuple(carried),
    )
    if query.date_from and query.date_to and query.date_to < query.date_from:
        errors["date_to"] = ["The date to field must be a date after or equal to date from."]
    if errors:
        raise QueryError(errors)
    return query


def paginate(leads: Sequence[dict[str, Any]], query: LeadsQuery, url: str) -> dict[str, Any]:
    """The Laravel paginator object for one page of `leads`; page URLs start with `url`."""
    per_page = query.per_page or DEFAULT_PER_PAGE
    page = query.page or 1
    total = len(leads)
    last_page = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page
    data = list(leads[start : start + per_page])

    def page_url(number: int) -> str:
        return f"{url}?{urlencode([*query.carried, ('page', str(number))])}"

    def link(number: int | None, label: str, *, active: bool = False) -> dict[str, Any]:
        return {"url": page_url(number) if number else None, "label": label, "active": active}

    previous = page - 1 if page > 1 else None
    following = page + 1 if page < last_page else None
    links = [link(previous, "&laquo; Previous")]
    links += [
        link(number, str(number), active=number == page) if number else link(None, "...")
        for number in page_window(page, last_page)
    ]
    links.append(link(following, "Next &raquo;"))
    return {
        "current_page": page,
        "data": data,
        "first_page_url": page_url(1),
        "from": start + 1 if data else None,
        "last_page": last_page,
        "last_page_url": page_url(last_page),
        "links": links,
        "next_page_url": page_url(following) if following else None,
        "path": url,
        "per_page": per_page,
        "prev_page_url": page_url(previous) if previous else None,
        "to": start + len(data) if data else None,
        "total": total,
    }


def page_window(page: int, last_page: int, on_each_side: int = 3) -> list[int | None]:
    """The page numbers Laravel's paginator links show; None marks a '...' gap."""
    if last_page < on_each_side * 2 + 8:
        return list(range(1, last_page + 1))
    window = on_each_side + 4
    head, tail = [1, 2], [last_page - 1, last_page]
    if page <= window:
        return [*range(1, window + on_each_side + 1), None, *tail]
    if page > last_page - window:
        return [*head, None, *range(last_page - (window + on_each_side - 1), last_page + 1)]
    return [*head, None, *range(page - on_each_side, page + on_each_side + 1), None, *tail]
