"""Points earned per local day and rule from the analytics events, the same on DuckDB and
PostgreSQL: days turn at midnight in Beijing, other merchants and older days stay out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ccare.core.analytics import AnalyticsStore
from ccare.star_points import report
from ccare.star_points.schemas import StarPointsEarned

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Beijing on the 24th


def earned(merchant_id: int, rule: str, points: int, at: datetime) -> StarPointsEarned:
    return StarPointsEarned(
        merchant_id=merchant_id,
        consumer_id=7,
        rule=rule,
        points=points,
        entry_id=1,
        source_event_id="x",
        occurred_at=at,
    )


def test_daily_points_by_rule(analytics_store: AnalyticsStore) -> None:
    analytics_store.record(
        [
            earned(1, "own_channel_visitor", 300, NOW),
            earned(1, "own_channel_visitor", 300, NOW - timedelta(hours=1)),
            earned(1, "repeat_visit", 30, NOW),
            # 23:59 and 00:00 in Beijing: the 22nd and the 23rd.
            earned(1, "new_favorite", 100, datetime(2026, 11, 22, 15, 59, tzinfo=UTC)),
            earned(1, "new_favorite", 100, datetime(2026, 11, 22, 16, 0, tzinfo=UTC)),
            earned(1, "new_favorite", 100, datetime(2026, 11, 17, 15, 59, tzinfo=UTC)),  # too old
            earned(2, "own_channel_visitor", 300, NOW),  # another merchant
        ]
    )

    days = report.daily_earned(analytics_store, 1, days=7, now=NOW)

    assert [d.day for d in days] == [date(2026, 11, 18) + timedelta(days=i) for i in range(7)]
    assert {d.day.day: d.by_rule for d in days if d.total} == {
        22: {"own_channel_visitor": 0, "repeat_visit": 0, "new_favorite": 100},
        23: {"own_channel_visitor": 0, "repeat_visit": 0, "new_favorite": 100},
        24: {"own_channel_visitor": 600, "repeat_visit": 30, "new_favorite": 0},
    }
    assert [d.total for d in days] == [0, 0, 0, 0, 100, 100, 630]


def test_no_analytics_store_gives_zeros() -> None:
    days = report.daily_earned(None, 1, days=3, now=NOW)
    assert [(d.day.day, d.total) for d in days] == [(22, 0), (23, 0), (24, 0)]
