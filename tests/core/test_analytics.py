"""The analytics store on both backends: idempotent by event id, and the dashboards'
Ibis queries give the same answers on DuckDB and on PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pytest

from ccare.core.analytics import AnalyticsStore
from ccare.orders.schemas import OrderClosed, OrderPaid
from ccare.web.charts import DailySales, merchant_daily_sales

PG_URL = os.environ.get("CCARE_TEST_DATABASE_URL", "")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(analytics_store: AnalyticsStore) -> AnalyticsStore:
    return analytics_store


def paid(n: int, merchant_id: int, amount: int, at: datetime) -> OrderPaid:
    return OrderPaid(
        event_id=f"evt{n:029d}",
        occurred_at=at,
        merchant_id=merchant_id,
        consumer_id=7,
        order_id=n,
        trade_no=str(n),
        mini_program_id=1,
        items=[{"item_id": 1, "quantity": 1}],
        amount=amount,
        platform_fee_fen=0,
    )


def test_record_is_idempotent_by_event_id(store: AnalyticsStore) -> None:
    events = [paid(1, 1, 500, NOW), paid(2, 1, 700, NOW)]
    assert store.record(events) == 2
    assert store.record(events + [paid(3, 1, 100, NOW)]) == 1
    assert store.count() == 3
    assert store.count("order.paid") == 3
    assert store.count("order.closed") == 0


def test_daily_sales_query_runs_the_same_on_every_backend(store: AnalyticsStore) -> None:
    store.record(
        [
            # 23:30 UTC on the 22nd is 07:30 on the 23rd in China: counted on the 23rd.
            paid(1, 1, 1_000, datetime(2026, 11, 22, 23, 30, tzinfo=UTC)),
            paid(2, 1, 2_500, datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),
            paid(3, 1, 400, datetime(2026, 11, 24, 1, 0, tzinfo=UTC)),
            paid(4, 2, 9_999, datetime(2026, 11, 24, 1, 0, tzinfo=UTC)),  # another merchant
            OrderClosed(
                event_id="x" * 32,
                merchant_id=1,
                order_id=5,
                trade_no="5",
                mini_program_id=1,
                items=[],
                reason="consumer",
                occurred_at=NOW,
            ),
        ]
    )
    assert merchant_daily_sales(store, 1, days=3, now=NOW) == [
        DailySales(date(2026, 11, 22), 0, 0),
        DailySales(date(2026, 11, 23), 2, 3_500),
        DailySales(date(2026, 11, 24), 1, 400),
    ]
