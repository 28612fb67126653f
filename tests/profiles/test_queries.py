"""profile_table, the RFM summary and the timeline over a known event set: the exact same
numbers on DuckDB and on PostgreSQL."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from ccare.consumers.schemas import ConsumerRegistered
from ccare.core.analytics import AnalyticsStore
from ccare.core.events import DomainEvent
from ccare.coupons.schemas import ActivityChanged, CouponClaimed, CouponUsed
from ccare.orders.schemas import OrderPaid, OrderRefunded
from ccare.profiles.queries import (
    PROFILE_COLUMNS,
    RFM_LABELS,
    SEGMENTS,
    label_for,
    profile_table,
    rfm_summary,
    timeline,
)
from ccare.profiles.schemas import CustomerEvent

PG_URL = os.environ.get("CCARE_TEST_DATABASE_URL", "")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
M, OTHER = 1, 2
_ids = itertools.count(1)


# Events other packages declare; shaped as the shared contract says.
class FavoriteAdded(DomainEvent):
    type: ClassVar[str] = "favorite.added"
    mini_program_id: int
    channel: str | None = None


class FavoriteRemoved(FavoriteAdded):
    type: ClassVar[str] = "favorite.removed"


class StorefrontVisited(DomainEvent):
    type: ClassVar[str] = "storefront.visited"
    mini_program_id: int
    channel: str


def ago(days: int, hours: int = 1) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def _id() -> str:
    return f"t{next(_ids):031d}"


def paid(consumer: int, days: int, fen: int, merchant: int = M) -> OrderPaid:
    n = next(_ids)
    return OrderPaid(
        event_id=_id(),
        occurred_at=ago(days),
        merchant_id=merchant,
        consumer_id=consumer,
        order_id=n,
        trade_no=str(n),
        mini_program_id=5,
        items=[],
        amount=fen,
        platform_fee_fen=0,
    )


def refunded(consumer: int, days: int, fen: int, *, full: bool) -> OrderRefunded:
    return OrderRefunded(
        event_id=_id(),
        occurred_at=ago(days),
        merchant_id=M,
        consumer_id=consumer,
        order_id=1,
        trade_no="1",
        mini_program_id=5,
        refund_id=1,
        out_request_no="r",
        amount=fen,
        refunded_total=fen,
        fully_refunded=full,
    )


def custom(consumer: int, days: int, name: str, channel: str | None = None) -> CustomerEvent:
    external = _id()
    return CustomerEvent(
        event_id=f"ext:{M}:{external[-20:]}",
        occurred_at=ago(days),
        merchant_id=M,
        consumer_id=consumer,
        name=name,
        channel=channel,
        external_id=external,
    )


def claimed(consumer: int, days: int, channel: str) -> CouponClaimed:
    return CouponClaimed(
        event_id=_id(),
        occurred_at=ago(days),
        merchant_id=M,
        consumer_id=consumer,
        activity_id=1,
        coupon_id=next(_ids),
        code="c",
        channel=channel,
    )


def fav(cls: type[FavoriteAdded], consumer: int, days: int, mp: int) -> FavoriteAdded:
    return cls(
        event_id=_id(),
        occurred_at=ago(days),
        merchant_id=M,
        consumer_id=consumer,
        mini_program_id=mp,
    )


def visited(consumer: int, days: int, channel: str) -> StorefrontVisited:
    return StorefrontVisited(
        event_id=_id(),
        occurred_at=ago(days),
        merchant_id=M,
        consumer_id=consumer,
        mini_program_id=5,
        channel=channel,
    )


def registered(consumer: int, level: str) -> ConsumerRegistered:
    return ConsumerRegistered(
        event_id=_id(),
        occurred_at=ago(300),
        consumer_id=consumer,
        city="Hangzhou",
        member_level=level,
    )


def known_events() -> list[DomainEvent]:
    return [
        # 101: three orders, one partial refund, favorites, coupons, visits.
        registered(101, "gold"),
        custom(101, 50, "visit"),  # the first event, without a channel
        claimed(101, 40, "fan_group"),  # the first with one: the acquisition channel
        fav(FavoriteAdded, 101, 30, 5),
        fav(FavoriteRemoved, 101, 25, 5),
        paid(101, 20, 2_000),
        fav(FavoriteAdded, 101, 20, 6),
        claimed(101, 12, "payment_success"),
        paid(101, 10, 3_000),
        CouponUsed(
            event_id=_id(),
            occurred_at=ago(10),
            merchant_id=M,
            consumer_id=101,
            activity_id=1,
            coupon_id=1,
            order_id=1,
            discount_fen=500,
        ),
        refunded(101, 9, 1_000, full=False),
        visited(101, 8, "mini_program"),
        custom(101, 4, "page_view", "search"),  # not a visit
        fav(FavoriteAdded, 101, 3, 5),
        paid(101, 2, 5_000),
        visited(101, 1, "search"),
        paid(101, 1, 99_999, merchant=OTHER),  # another merchant's order
        # 102: one order after finding the shop by search.
        registered(102, "platinum"),
        visited(102, 6, "search"),
        paid(102, 5, 2_500),
        # 103: two orders long ago, one refunded in full.
        paid(103, 60, 1_000),
        paid(103, 45, 1_500),
        refunded(103, 44, 1_500, full=True),
        # 104: one small order 100 days ago.
        registered(104, "public"),
        paid(104, 100, 800),
        # 105: visited and favorited, never ordered.
        custom(105, 1, "visit", "offline"),
        fav(FavoriteAdded, 105, 1, 5),
        # 106: a customer of the other merchant only.
        paid(106, 3, 4_000, merchant=OTHER),
        # 107: one order, as recent as 101's last and as large as 102's.
        paid(107, 2, 2_500),
        # An event of the merchant about no consumer.
        ActivityChanged(
            event_id=_id(),
            occurred_at=ago(7),
            merchant_id=M,
            activity_id=1,
            out_biz_no="x",
            action="created",
            status="active",
        ),
    ]


@pytest.fixture
def store(analytics_store: AnalyticsStore) -> AnalyticsStore:
    analytics_store.record(known_events())
    return analytics_store


def profiles(store: AnalyticsStore) -> dict[int, dict[str, Any]]:
    rows = profile_table(store.events_table(), M, NOW).to_pyarrow().to_pylist()
    return {r["consumer_id"]: r for r in rows}


def test_profile_table_has_the_contract_columns(store: AnalyticsStore) -> None:
    p = profile_table(store.events_table(), M, NOW)
    types = {name: str(t) for name, t in p.schema().items()}
    assert tuple(types) == PROFILE_COLUMNS
    assert {k: v.split("(")[0] for k, v in types.items()} == {
        "consumer_id": "int64",
        "first_seen": "timestamp",
        "last_seen": "timestamp",
        "visits": "int64",
        "orders": "int64",
        "gmv_fen": "int64",
        "last_order_at": "timestamp",
        "favorites": "int64",
        "coupons_claimed": "int64",
        "coupons_used": "int64",
        "acquisition_channel": "string",
        "member_level": "string",
        "recency_days": "int64",
        "r_score": "int64",
        "f_score": "int64",
        "m_score": "int64",
        "rfm_segment": "string",
    }


def test_profile_numbers(store: AnalyticsStore) -> None:
    p = profiles(store)
    assert sorted(p) == [101, 102, 103, 104, 105, 107]
    alice = p[101]
    assert alice == {
        "consumer_id": 101,
        "first_seen": ago(50),
        "last_seen": ago(1),
        "visits": 3,
        "orders": 3,
        "gmv_fen": 9_000,
        "last_order_at": ago(2),
        "favorites": 2,
        "coupons_claimed": 2,
        "coupons_used": 1,
        "acquisition_channel": "fan_group",
        "member_level": "gold",
        "recency_days": 2,
        "r_score": 4,
        "f_score": 5,
        "m_score": 5,
        "rfm_segment": "champions",
    }
    columns = ("visits", "orders", "gmv_fen", "favorites", "acquisition_channel", "member_level")
    assert {c: tuple(p[c][k] for k in columns) for c in (102, 103, 104, 105, 107)} == {
        102: (1, 1, 2_500, 0, "search", "platinum"),
        103: (0, 2, 1_000, 0, None, None),
        104: (0, 1, 800, 0, None, "public"),
        105: (1, 0, 0, 1, "offline", None),
        107: (0, 1, 2_500, 0, None, None),
    }
    assert (p[103]["first_seen"], p[103]["last_seen"], p[103]["last_order_at"]) == (
        ago(60),
        ago(44),
        ago(45),
    )
    assert (p[105]["last_order_at"], p[105]["recency_days"]) == (None, None)


def test_rfm_scores_and_labels(store: AnalyticsStore) -> None:
    """Five buyers; mid-rank quintiles: ties share a score."""
    p = profiles(store)
    rfm = {
        c: (r["recency_days"], r["r_score"], r["f_score"], r["m_score"], r["rfm_segment"])
        for c, r in p.items()
    }
    assert rfm == {
        101: (2, 4, 5, 5, "champions"),
        107: (2, 4, 2, 3, "potential"),  # tied with 101 on recency: the same R
        102: (5, 3, 2, 3, "potential"),  # tied with 107 on GMV: the same M
        103: (45, 2, 4, 2, "at_risk"),
        104: (100, 1, 2, 1, "lost"),
        105: (None, 0, 0, 0, "prospects"),
    }


def test_rfm_summary_counts_customers_per_segment(store: AnalyticsStore) -> None:
    rows = rfm_summary(store.events_table(), M, NOW).to_pyarrow().to_pylist()
    assert sorted((r["rfm_segment"], r["customers"], r["gmv_fen"]) for r in rows) == [
        ("at_risk", 1, 1_000),
        ("champions", 1, 9_000),
        ("lost", 1, 800),
        ("potential", 2, 5_000),
        ("prospects", 1, 0),
    ]


def test_one_customer_filtered_keeps_the_scores_of_the_whole_merchant(
    store: AnalyticsStore,
) -> None:
    p = profile_table(store.events_table(), M, NOW)
    [row] = p.filter(p.consumer_id == 103).to_pyarrow().to_pylist()
    assert (row["r_score"], row["f_score"], row["m_score"]) == (2, 4, 2)


def test_timeline_is_newest_first_for_this_merchant_only(store: AnalyticsStore) -> None:
    rows = timeline(store.events_table(), M, 101, 4).to_pyarrow().to_pylist()
    assert [(r["type"], r["occurred_at"], r["amount"]) for r in rows] == [
        ("storefront.visited", ago(1), None),
        ("order.paid", ago(2), 5_000),
        ("favorite.added", ago(3), None),
        ("customer.event", ago(4), None),
    ]
    assert (rows[0]["channel"], rows[3]["name"], rows[3]["channel"]) == (
        "search",
        "page_view",
        "search",
    )


def test_another_merchants_table_has_only_its_customers(store: AnalyticsStore) -> None:
    rows = profile_table(store.events_table(), OTHER, NOW).to_pyarrow().to_pylist()
    scores = sorted(
        (r["consumer_id"], r["gmv_fen"], r["r_score"], r["f_score"], r["m_score"], r["rfm_segment"])
        for r in rows
    )
    assert scores == [
        (101, 99_999, 4, 3, 4, "potential"),
        (106, 4_000, 2, 3, 2, "hibernating"),
    ]


def test_the_label_table_covers_every_score_once() -> None:
    assert SEGMENTS == (
        "champions",
        "loyal",
        "new",
        "potential",
        "at_risk",
        "hibernating",
        "lost",
        "prospects",
    )
    assert label_for(0, 0, 0) == "prospects"
    grid = {
        (r, f, m): label_for(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)
    }
    assert grid[(5, 5, 5)] == "champions"
    assert grid[(5, 5, 3)] == "loyal"
    assert grid[(5, 1, 1)] == "new"
    assert grid[(3, 3, 5)] == "potential"
    assert grid[(2, 5, 5)] == "at_risk"
    assert grid[(2, 1, 1)] == "hibernating"
    assert grid[(1, 3, 5)] == "lost"
    assert set(grid.values()) == set(SEGMENTS) - {"prospects"}
    assert all(row.r[0] <= row.r[1] for row in RFM_LABELS)
