"""Points earned per local day and rule, from the analytics events (`star_points.earned`),
so the chart runs on DuckDB and PostgreSQL alike and never reads the OLTP ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ccare.core.analytics import payload_int, payload_str
from ccare.core.time import BEIJING, local_date, utcnow
from ccare.star_points import rules

EARNED = "star_points.earned"
SECONDS_PER_DAY = 86_400
LOCAL_OFFSET_SECONDS = 8 * 3_600


@dataclass(frozen=True)
class DayPoints:
    day: date
    by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_rule.values())


def daily_earned(
    analytics: Any, merchant_id: int, *, days: int = 30, now: datetime | None = None
) -> list[DayPoints]:
    """The last `days` local days, oldest first, every day present (zeros included)."""
    today = local_date(now or utcnow())
    first = today - timedelta(days=days - 1)
    totals: dict[tuple[date, str], int] = {}
    if analytics is not None:
        start = datetime.combine(first, datetime.min.time(), tzinfo=BEIJING)
        t = analytics.events_table()
        e = t.filter((t.type == EARNED) & (t.merchant_id == merchant_id) & (t.occurred_at >= start))
        seconds = e.occurred_at.epoch_seconds().cast("float64") + LOCAL_OFFSET_SECONDS
        e = e.select(
            day_number=(seconds / SECONDS_PER_DAY).floor().cast("int64"),
            rule=payload_str(e, "rule"),
            points=payload_int(e, "points"),
        )
        expr = e.group_by(["day_number", "rule"]).aggregate(
            points=e.points.sum().fill_null(0).cast("int64")
        )
        epoch = date(1970, 1, 1)
        for row in expr.to_pyarrow().to_pylist():
            day = epoch + timedelta(days=int(row["day_number"]))
            totals[(day, str(row["rule"]))] = int(row["points"])
    out: list[DayPoints] = []
    for i in range(days):
        day = first + timedelta(days=i)
        out.append(DayPoints(day, {r.key: totals.get((day, r.key), 0) for r in rules.RULES}))
    return out
