"""Dashboard series from the analytics store (DuckDB by default), written as Ibis expressions.

The analytics store is filled by the worker after commit, so these numbers trail the
OLTP tables by the relay delay (normally well under a second in the embedded mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ccare.core.time import local_date, utcnow

# Days are counted in the platform's display time zone (UTC+8, no daylight saving).
DAY_OFFSET = timedelta(hours=8)


@dataclass(frozen=True)
class DailySales:
    day: date
    orders: int
    gmv_fen: int


def local_today(now: datetime | None = None) -> date:
    return local_date(now)


def merchant_daily_sales(
    analytics: Any, merchant_id: int, *, days: int = 14, now: datetime | None = None
) -> list[DailySales]:
    """Paid orders and GMV (fen) per local day for the last `days` days, oldest first.

    Days without sales are present with zeros; no analytics store gives all zeros.
    """
    import ibis

    now = now or utcnow()
    today = local_today(now)
    first = today - timedelta(days=days - 1)
    totals: dict[date, tuple[int, int]] = {}
    if analytics is not None:
        # First instant of `first` in local time, as UTC.
        start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo) - DAY_OFFSET
        t = analytics.events_table()
        paid = t.filter(
            (t.type == "order.paid") & (t.merchant_id == merchant_id) & (t.occurred_at >= start)
        )
        paid = paid.mutate(day=(paid.occurred_at + ibis.interval(hours=8)).date())
        expr = paid.group_by("day").aggregate(
            orders=paid.count(), gmv=paid.amount.sum().fill_null(0)
        )
        for row in expr.to_pyarrow().to_pylist():
            totals[row["day"]] = (int(row["orders"]), int(row["gmv"] or 0))
    return [
        DailySales(d, *totals.get(d, (0, 0)))
        for d in (first + timedelta(days=i) for i in range(days))
    ]
