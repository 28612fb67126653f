"""Daily GMV and paid orders from the analytics store."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ccare.core.analytics import DuckDBAnalytics
from ccare.orders.schemas import OrderCreated, OrderPaid
from ccare.web.charts import DailySales, merchant_daily_sales

NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 on March 10 in China


def paid(merchant_id: int, amount: int, at: datetime) -> OrderPaid:
    return OrderPaid(
        merchant_id=merchant_id,
        consumer_id=1,
        order_id=1,
        trade_no="t",
        mini_program_id=1,
        items=[],
        amount=amount,
        platform_fee_fen=0,
        occurred_at=at,
    )


def test_groups_paid_orders_by_china_day_and_fills_gaps() -> None:
    store = DuckDBAnalytics(":memory:")
    store.record(
        [
            paid(7, 1000, datetime(2026, 3, 10, 1, 0, tzinfo=UTC)),
            paid(7, 250, datetime(2026, 3, 9, 16, 30, tzinfo=UTC)),  # 00:30 on the 10th in China
            paid(7, 900, datetime(2026, 3, 9, 15, 59, tzinfo=UTC)),  # 23:59 on the 9th in China
            paid(7, 5000, datetime(2026, 3, 1, 12, 0, tzinfo=UTC)),  # before the window
            paid(8, 777, datetime(2026, 3, 10, 1, 0, tzinfo=UTC)),  # another merchant
            OrderCreated(
                merchant_id=7,
                consumer_id=1,
                order_id=2,
                trade_no="u",
                mini_program_id=1,
                items=[],
                amount=3000,
                occurred_at=datetime(2026, 3, 10, 1, 0, tzinfo=UTC),
            ),
        ]
    )
    series = merchant_daily_sales(store, 7, days=3, now=NOW)
    assert series == [
        DailySales(date(2026, 3, 8), 0, 0),
        DailySales(date(2026, 3, 9), 1, 900),
        DailySales(date(2026, 3, 10), 2, 1250),
    ]
    store.close()


def test_without_an_analytics_store_the_series_is_zero() -> None:
    series = merchant_daily_sales(None, 7, days=2, now=NOW)
    assert series == [DailySales(date(2026, 3, 9), 0, 0), DailySales(date(2026, 3, 10), 0, 0)]
