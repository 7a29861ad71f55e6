"""Pydantic models of the documented "List leads" payload.

They are strict where the documentation is exact (integer ids, E.164 phone
numbers, `YYYY-MM-DD HH:MM:SS` timestamps) and open where it is not: a lead may
carry fields the page does not list, and an unknown status is accepted (the
fixture loader reports it as a warning). They are used to validate fixtures
once, at load time, and to describe the endpoint in OpenAPI; never per request.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

KNOWN_STATUSES = (
    "created",
    "scheduled",
    "processing",
    "completed",
    "rescheduled",
    "reached-max-retries",
    "blacklisted",
)

E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
E164 = re.compile(E164_PATTERN)
TIMESTAMP = re.compile(TIMESTAMP_PATTERN)


def _e164(value: str) -> str:
    if not E164.fullmatch(value):
        raise ValueError("an E.164 phone number like +14155550123")
    return value


def _timestamp(value: str) -> str:
    if not TIMESTAMP.fullmatch(value):
        raise ValueError("a timestamp like 2025-06-30 11:18:04 (YYYY-MM-DD HH:MM:SS)")
    return value


PhoneNumber = Annotated[
    str, AfterValidator(_e164), Field(examples=["+14155550123"], description="E.164")
]
Timestamp = Annotated[str, AfterValidator(_timestamp), Field(examples=["2025-06-30 11:18:04"])]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class Campaign(_Model):
    """The campaign a lead belongs to."""

    id: int
    name: str


class SecondaryContact(_Model):
    """A secondary contact lead attached to a lead."""

    id: int
    phone_number: PhoneNumber
    variables: dict[str, Any]
    status: str
    created_at: Timestamp
    updated_at: Timestamp


class Lead(_Model):
    """One lead of the authenticated user, as documented."""

    id: int
    campaign_id: int
    phone_number: PhoneNumber
    variables: dict[str, Any]
    status: str
    created_at: Timestamp
    updated_at: Timestamp
    campaign: Campaign
    secondary_contacts: list[SecondaryContact]


class PageLink(BaseModel):
    url: str | None
    label: str
    active: bool


class LeadsPage(BaseModel):
    """The Laravel paginator answered when `page` or `per_page` is given."""

    current_page: int
    data: list[Lead]
    first_page_url: str
    from_: int | None = Field(alias="from")
    last_page: int
    last_page_url: str
    links: list[PageLink]
    next_page_url: str | None
    path: str
    per_page: int
    prev_page_url: str | None
    to: int | None
    total: int


class ErrorBody(BaseModel):
    """The error body the real API sends (Laravel conventions)."""

    message: str
    errors: dict[str, list[str]] | None = None


LEADS = TypeAdapter(list[Lead])

EXAMPLE_LEAD: dict[str, Any] = {
    "id": 1,
    "campaign_id": 1,
    "phone_number": "+1234567890",
    "variables": {"customer_name": "John Doe", "email": "john.doe@example.com"},
    "status": "created",
    "created_at": "2025-06-30 11:18:04",
    "updated_at": "2025-06-30 11:18:04",
    "campaign": {"id": 1, "name": "My new campaign"},
    "secondary_contacts": [
        {
            "id": 2,
            "phone_number": "+1234567899",
            "variables": {
                "customer_name": "Jane Doe Secondary",
                "email": "jane.doe.secondary@example.com",
            },
            "status": "created",
            "created_at": "2025-06-30 11:18:04",
            "updated_at": "2025-06-30 11:18:04",
        }
    ],
}
