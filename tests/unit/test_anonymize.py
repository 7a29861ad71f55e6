from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leads_proxy.fixtures.anonymize import anonymize_leads, country_code, fake_phone
from leads_proxy.fixtures.generate import generate_leads
from leads_proxy.fixtures.schema import EXAMPLE_LEAD, LEADS


def personal_strings(leads: list[dict[str, Any]]) -> set[str]:
    """Every phone number, name and email in the leads."""
    found: set[str] = set()
    for lead in leads:
        for person in [lead, *lead["secondary_contacts"]]:
            found.add(person["phone_number"])
            found.add(person["variables"]["customer_name"])
            found.add(person["variables"]["email"])
    return found


@settings(max_examples=30, deadline=None)
@given(count=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_anonymize__valid_and_no_personal_data_left(count: int, seed: int) -> None:
    leads = generate_leads(count, seed=seed)
    result = anonymize_leads(leads)
    LEADS.validate_python(result, strict=True)
    text = json.dumps(result)
    for original in personal_strings(leads):
        assert original not in text
    for before, after in zip(leads, result, strict=True):
        for field in ("id", "campaign_id", "status", "created_at", "updated_at", "campaign"):
            assert before[field] == after[field]
        assert len(before["secondary_contacts"]) == len(after["secondary_contacts"])
        assert country_code(before["phone_number"]) == country_code(after["phone_number"])
        assert len(before["phone_number"]) == len(after["phone_number"])


def test_anonymize__the_same_input_gets_the_same_fake_everywhere() -> None:
    lead = json.loads(json.dumps(EXAMPLE_LEAD))
    twin = {**json.loads(json.dumps(EXAMPLE_LEAD)), "id": 9}
    twin["secondary_contacts"][0]["phone_number"] = lead["phone_number"]
    one, two = anonymize_leads([lead, twin])
    assert (
        one["phone_number"] == two["phone_number"] == two["secondary_contacts"][0]["phone_number"]
    )
    assert one["variables"] == two["variables"]
    assert anonymize_leads([lead]) == anonymize_leads([lead])  # reproducible across runs


def test_anonymize__finds_personal_data_by_shape_in_any_variable() -> None:
    lead = json.loads(json.dumps(EXAMPLE_LEAD))
    lead["variables"] = {
        "agent": "Mary Jane Watson",
        "contact": {"mail": "MJ@Example.org", "alt": ["+44 20 7946 0958"]},
        "notes": "call after 5pm",
        "score": 7,
    }
    out = anonymize_leads([lead])[0]["variables"]
    assert "Mary" not in json.dumps(out)
    assert out["contact"]["mail"].endswith("@example.com")
    assert re.fullmatch(r"\+44 \d\d \d{4} \d{4}", out["contact"]["alt"][0])
    assert out["contact"]["alt"][0] != "+44 20 7946 0958"
    assert (out["notes"], out["score"]) == ("call after 5pm", 7)


def test_fake_phone__keeps_the_country_code() -> None:
    for phone, code in [("+14155550123", "1"), ("+971501234567", "971"), ("+447700900123", "44")]:
        fake = fake_phone(phone)
        assert fake.startswith(f"+{code}")
        assert fake != phone
        assert len(fake) == len(phone)
