from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from leads_proxy.mock.query import LeadsQuery, QueryError, page_window, paginate, parse_query


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        pytest.param([], LeadsQuery(), id="nothing"),
        pytest.param([("status", "completed")], LeadsQuery(status="completed"), id="status"),
        pytest.param([("campaign_id", " 7 ")], LeadsQuery(campaign_id=7), id="trimmed-int"),
        pytest.param([("phone_number", " 4479")], LeadsQuery(phone_number="4479"), id="plus-space"),
        pytest.param(
            [("date_from", "2025-06-01"), ("date_to", "2025-06-01")],
            LeadsQuery(date_from=date(2025, 6, 1), date_to=date(2025, 6, 1)),
            id="same-day-range",
        ),
        pytest.param([("status", "")], LeadsQuery(), id="empty-is-absent"),
        pytest.param([("page", "1"), ("page", "3")], LeadsQuery(page=3), id="last-wins"),
        pytest.param([("per_page", "100")], LeadsQuery(per_page=100), id="per-page-max"),
    ],
)
def test_parse_query__accepts(pairs: list[tuple[str, str]], expected: LeadsQuery) -> None:
    query = parse_query(pairs)
    assert (query.status, query.campaign_id, query.phone_number) == (
        expected.status,
        expected.campaign_id,
        expected.phone_number,
    )
    assert (query.date_from, query.date_to, query.page, query.per_page) == (
        expected.date_from,
        expected.date_to,
        expected.page,
        expected.per_page,
    )


def test_parse_query__keeps_non_page_pairs_in_order_for_page_links() -> None:
    query = parse_query([("status", "x"), ("page", "2"), ("per_page", "5"), ("z", "")])
    assert query.carried == (("status", "x"), ("per_page", "5"), ("z", ""))


@pytest.mark.parametrize(
    ("pairs", "errors"),
    [
        ([("per_page", "0")], {"per_page": ["The per page field must be between 1 and 100."]}),
        ([("page", "1e3")], {"page": ["The page field must be an integer."]}),
        ([("page", "٣")], {"page": ["The page field must be an integer."]}),  # Arabic digit
        (
            [("date_to", "2025-02-30")],
            {"date_to": ["The date to field must match the format Y-m-d."]},
        ),
    ],
)
def test_parse_query__refuses(pairs: list[tuple[str, str]], errors: dict[str, list[str]]) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(pairs)
    assert caught.value.errors == errors
    assert caught.value.body() == {"message": next(iter(errors.values()))[0], "errors": errors}


def test_query_error__message_counts_the_others() -> None:
    error = QueryError({"a": ["First."], "b": ["Second."], "c": ["Third."]})
    assert error.message == "First. (and 2 more errors)"
    assert QueryError({"a": ["One."], "b": ["Two."]}).message == "One. (and 1 more error)"


LEADS: list[dict[str, Any]] = [
    {"id": n, "status": s, "campaign_id": c, "phone_number": p, "created_at": d}
    for n, s, c, p, d in [
        (1, "created", 1, "+14155550100", "2025-01-01 00:00:00"),
        (2, "completed", 2, "+447700900123", "2025-01-31 23:59:59"),
        (3, "completed", 1, "+971501234567", "2025-02-01 00:00:00"),
    ]
]


@pytest.mark.parametrize(
    ("pairs", "ids"),
    [
        ([("status", "completed")], [2, 3]),
        ([("campaign_id", "1")], [1, 3]),
        ([("phone_number", "4477")], [2]),
        ([("date_to", "2025-01-31")], [1, 2]),
        ([("date_from", "2025-01-31"), ("date_to", "2025-01-31")], [2]),
        ([("status", "completed"), ("campaign_id", "1")], [3]),
    ],
)
def test_select__keeps_matching_leads_in_order(
    pairs: list[tuple[str, str]], ids: list[int]
) -> None:
    assert [lead["id"] for lead in parse_query(pairs).select(LEADS)] == ids


def test_paginate__first_page_of_many() -> None:
    leads = [{"id": n} for n in range(1, 36)]
    body = paginate(leads, parse_query([("per_page", "10")]), "http://h/leads")
    assert [lead["id"] for lead in body["data"]] == list(range(1, 11))
    assert (body["from"], body["to"], body["total"], body["last_page"]) == (1, 10, 35, 4)
    assert body["next_page_url"] == "http://h/leads?per_page=10&page=2"
    assert body["prev_page_url"] is None
    assert body["links"][0] == {"url": None, "label": "&laquo; Previous", "active": False}
    assert body["links"][-1]["url"] == "http://h/leads?per_page=10&page=2"


@pytest.mark.parametrize(
    ("page", "last", "window"),
    [
        (1, 1, [1]),
        (5, 13, list(range(1, 14))),
        (1, 20, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, None, 19, 20]),
        (10, 20, [1, 2, None, 7, 8, 9, 10, 11, 12, 13, None, 19, 20]),
        (20, 20, [1, 2, None, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]),
    ],
    ids=["single", "small", "near-start", "middle", "near-end"],
)
def test_page_window__matches_laravel(page: int, last: int, window: list[int | None]) -> None:
    assert page_window(page, last) == window


def test_parse_query__names_as_php_registers_them() -> None:
    # Laravel sees per_page in ?per.page=2 (and in ?+per_page=2): a paginated answer.
    for name in ("per.page", " per_page", "per page"):
        query = parse_query([(name, "2")])
        assert query.paginated
        assert query.per_page == 2
