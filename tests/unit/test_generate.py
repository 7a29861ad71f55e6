from __future__ import annotations

from app.generate import generate_leads
from app.schema import KNOWN_STATUSES, LEADS


def test_generate__same_seed_same_leads_other_seed_other_leads() -> None:
    assert generate_leads(50, seed=3) == generate_leads(50, seed=3)
    assert generate_leads(50, seed=3) != generate_leads(50, seed=4)


def test_generate__leads_validate_strictly_with_unique_ids() -> None:
    leads = generate_leads(2_000, seed=11)
    LEADS.validate_python(leads, strict=True)
    ids = [lead["id"] for lead in leads]
    ids += [contact["id"] for lead in leads for contact in lead["secondary_contacts"]]
    assert len(ids) == len(set(ids))


def test_generate__looks_like_a_real_account() -> None:
    leads = generate_leads(2_000, seed=11)
    assert {lead["status"] for lead in leads} == set(KNOWN_STATUSES)
    assert len({lead["campaign_id"] for lead in leads}) >= 3
    assert 0.15 < sum(bool(lead["secondary_contacts"]) for lead in leads) / len(leads) < 0.5
    for lead in leads:
        assert lead["campaign"]["id"] == lead["campaign_id"]
        assert lead["updated_at"] >= lead["created_at"]


def test_generate__reports_progress_to_the_end() -> None:
    seen: list[int] = []
    generate_leads(2_500, seed=0, progress=seen.append)
    assert seen == [1000, 2000, 2500]
