"""The compiler selects exactly the expected customers on DuckDB and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from ccare.core.analytics import AnalyticsStore
from ccare.segments.compiler import members_expr, size_expr
from ccare.segments.rules import parse
from tests.segments.events import NOW, WORLD, record

E = "event"


def members(store: AnalyticsStore, rule: dict[str, Any], merchant: int = 1) -> list[int]:
    expr = members_expr(store.events_table(), parse(rule), merchant, NOW)
    return [int(r["consumer_id"]) for r in expr.to_pyarrow().to_pylist()]


CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    (
        "paid twice in 30 days",
        {E: {"type": "order.paid", "count": {"gte": 2}, "within_days": 30}},
        [10],
    ),
    ("never paid", {E: {"type": "order.paid", "count": {"eq": 0}}}, [12, 13, 14]),
    ("paid at most once", {E: {"type": "order.paid", "count": {"lte": 1}}}, [11, 12, 13, 14]),
    ("paid exactly three times", {E: {"type": "order.paid", "count": {"eq": 3}}}, [10]),
    (
        "paid 1-2 times in 10 days",
        {E: {"type": "order.paid", "count": {"gte": 1, "lte": 2}, "within_days": 10}},
        [10],
    ),
    (
        "paid between two dates",
        {E: {"type": "order.paid", "between": ["2026-10-10", "2026-10-20"]}},
        [11],
    ),
    (
        "paid between two datetimes",
        {
            E: {
                "type": "order.paid",
                "between": ["2026-11-23T00:00:00+08:00", "2026-11-24T00:00:00+08:00"],
            }
        },
        [10],
    ),
    (
        "paid in mini-program 12",
        {E: {"type": "order.paid", "where": {"mini_program_id": 12}}},
        [10, 11],
    ),
    (
        "paid in 12 or 13, twice",
        {E: {"type": "order.paid", "where": {"mini_program_id": [12, 13]}, "count": {"gte": 2}}},
        [10],
    ),
    ("claimed offline", {E: {"type": "coupon.claimed", "where": {"channel": "offline_qr"}}}, [10]),
    ("shared", {E: {"type": "customer.event", "name": "share"}}, [12]),
    ("shared on wechat", {E: {"type": "customer.event", "where": {"channel": "wechat"}}}, [12]),
    ("visited", {E: {"type": "storefront.visited", "within_days": 7}}, [12]),
    ("favorites 12 now", {"favorited": {"mini_program_id": 12}}, [10]),
    ("favorites any now", {"favorited": {}}, [10, 13]),
    ("favorited in 30 days", {"favorited": {"within_days": 30}}, [10, 13]),
    (
        "favorited 12 in 60 days",
        {"favorited": {"mini_program_id": 12, "within_days": 60}},
        [10, 11],
    ),
    ("claimed activity 3", {"coupon": {"activity_id": 3, "state": "claimed"}}, [10, 11, 14]),
    ("used activity 3", {"coupon": {"activity_id": 3, "state": "used"}}, [10, 14]),
    ("used in 10 days", {"coupon": {"state": "used", "within_days": 10}}, [14]),
    (
        "holds an unused coupon of 3",
        {"coupon": {"activity_id": 3, "state": "claimed_unused"}},
        [11, 14],
    ),
    ("holds any unused coupon", {"coupon": {"state": "claimed_unused"}}, [11, 14]),
    (
        "customers who paid and used no coupon",
        {"all": [{E: {"type": "order.paid"}}, {"not": {"coupon": {"state": "used"}}}]},
        [11],
    ),
    (
        "favorited recently or shared",
        {"any": [{"favorited": {"within_days": 30}}, {E: {"type": "customer.event"}}]},
        [10, 12, 13],
    ),
    (
        "not (paid or claimed)",
        {"not": {"any": [{E: {"type": "order.paid"}}, {E: {"type": "coupon.claimed"}}]}},
        [12],
    ),
    (
        "favorited, no order in 30 days",
        {
            "all": [
                {"favorited": {}},
                {E: {"type": "order.paid", "within_days": 30, "count": {"eq": 0}}},
            ]
        },
        [13],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_selects_exactly(
    store: AnalyticsStore, rule: dict[str, Any], expected: list[int]
) -> None:
    record(store, WORLD)
    assert members(store, rule) == expected
    assert size_expr(store.events_table(), parse(rule), 1, NOW).execute() == len(expected)


def test_the_universe_is_one_merchants_customers(store: AnalyticsStore) -> None:
    record(store, WORLD)
    assert members(store, {E: {"type": "order.paid", "count": {"eq": 0}}}, merchant=2) == []
    assert members(store, {E: {"type": "order.paid", "count": {"gte": 5}}}, merchant=2) == [20]
    assert members(store, {E: {"type": "order.paid"}}, merchant=3) == []


def test_an_injection_attempt_is_only_a_string(store: AnalyticsStore) -> None:
    """Values are literals: a quote in a where value changes nothing (and is refused)."""
    record(store, WORLD)
    from ccare.segments.rules import InvalidRule

    with pytest.raises(InvalidRule):
        parse({E: {"type": "coupon.claimed", "where": {"channel": "x' OR '1'='1"}}})
    assert store.count() == len(WORLD)


def profile(field: str, op: str, value: object) -> dict[str, Any]:
    return {"profile": {"field": field, "op": op, "value": value}}


PROFILE_CASES: list[tuple[str, dict[str, Any], list[int]]] = [
    ("GMV at least 10 yuan", profile("gmv_fen", "gte", 1000), [10]),
    ("not GMV at least 10 yuan", {"not": profile("gmv_fen", "gte", 1000)}, [11, 12, 13, 14]),
    ("1 to 3 orders", profile("orders", "between", [1, 3]), [10, 11]),
    (
        "champions or hibernating",
        profile("rfm_segment", "in", ["champions", "hibernating"]),
        [10, 11],
    ),
    ("gold members", profile("member_level", "eq", "gold"), [10]),
    ("came through the API", profile("acquisition_channel", "eq", "api"), [13, 14]),
    ("not from the API", profile("acquisition_channel", "ne", "api"), [10, 11, 12]),
    ("ordered this month", profile("last_order_at", "gte", "2026-11-01T00:00:00+08:00"), [10]),
    ("ordered within 30 days", profile("recency_days", "lte", 30), [10]),
    (
        "favorites something, never paid",
        {"all": [profile("favorites", "gte", 1), {E: {"type": "order.paid", "count": {"eq": 0}}}]},
        [13],
    ),
]


@pytest.mark.parametrize(
    ("rule", "expected"), [c[1:] for c in PROFILE_CASES], ids=[c[0] for c in PROFILE_CASES]
)
def test_profile_leaves(store: AnalyticsStore, rule: dict[str, Any], expected: list[int]) -> None:
    record(store, WORLD)
    assert members(store, rule) == expected
