"""The availability forecast: the same weekday of the last four complete weeks of
impressions, on DuckDB and PostgreSQL alike; the baseline without history; the hourly
traffic curve pacing reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ccare.brand_bookings import forecast as fc
from ccare.core.analytics import AnalyticsStore
from ccare.core.events import DomainEvent
from tests.brand_bookings.conftest import TODAY, impression, local

TUESDAYS = [date(2026, 10, 27), date(2026, 11, 3), date(2026, 11, 10), date(2026, 11, 17)]


def _seed(store: AnalyticsStore) -> None:
    events: list[DomainEvent] = []
    n = 0

    def add(placement: str, at: datetime, count: int) -> None:
        nonlocal n
        for _ in range(count):
            n += 1
            events.append(impression(placement, at, n))

    # five_blessings: Tuesdays 10, 12, 14, 16; one Wednesday 9; both ends of the window.
    for day, count in zip(TUESDAYS, (10, 12, 14, 16), strict=True):
        add("five_blessings", local(day, 20), count)
    add("five_blessings", local(date(2026, 11, 18), 9), 9)
    add("five_blessings", local(date(2026, 10, 26), 12), 50)  # before the window
    add("five_blessings", local(TODAY, 1), 50)  # today: not a complete day
    # double_12 starts on Monday 11-16: earlier Mondays are not counted as zeros. 16:30 UTC
    # on 11-16 is 00:30 on Tuesday 11-17 in Shanghai.
    add("double_12", local(date(2026, 11, 16), 23, 59), 7)
    add("double_12", datetime(2026, 11, 16, 16, 30, tzinfo=UTC), 20)
    add("double_12", local(date(2026, 11, 23), 8), 11)
    add("home_feed", local(date(2026, 11, 17), 12), 99)  # another placement
    store.record(events)


def test_mean_of_the_same_weekday_since_the_first_impression(
    analytics_store: AnalyticsStore,
) -> None:
    _seed(analytics_store)
    tue, wed, thu = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)
    got = fc.forecast_days(analytics_store, "five_blessings", [tue, wed, thu], TODAY)
    # Tuesdays (10+12+14+16)/4; Wednesdays (0+0+0+9)/4 floored; no Thursday impression.
    assert [(d.day, d.forecast, d.source) for d in got] == [
        (tue, 13, "history"),
        (wed, 2, "history"),
        (thu, 0, "history"),
    ]
    assert [d.sellable for d in got] == [10, 1, 0]

    mon, sun = date(2026, 11, 30), date(2026, 11, 29)
    got = fc.forecast_days(analytics_store, "double_12", [mon, tue, sun], TODAY)
    assert [(d.forecast, d.source) for d in got] == [
        ((7 + 11) // 2, "history"),
        (20, "history"),
        (0, "history"),
    ]


def test_daily_counts_are_local_days(analytics_store: AnalyticsStore) -> None:
    _seed(analytics_store)
    counts = fc.daily_impressions(
        analytics_store, "double_12", date(2026, 11, 16), date(2026, 11, 23)
    )
    assert counts == {date(2026, 11, 16): 7, date(2026, 11, 17): 20, date(2026, 11, 23): 11}


def test_without_history_the_baseline() -> None:
    days = [TODAY + timedelta(days=1), TODAY + timedelta(days=2)]
    got = fc.forecast_days(None, "five_blessings", days, TODAY)
    assert [(d.forecast, d.source, d.sellable) for d in got] == [
        (2_000_000, "baseline", 1_600_000),
        (2_000_000, "baseline", 1_600_000),
    ]
    assert fc.forecast_days(None, "double_12", days[:1], TODAY)[0].forecast == 1_500_000


def test_history_older_than_four_weeks_is_no_history(analytics_store: AnalyticsStore) -> None:
    analytics_store.record([impression("double_12", local(date(2026, 10, 26)), 1)])
    got = fc.forecast_days(analytics_store, "double_12", [TODAY + timedelta(days=1)], TODAY)
    assert (got[0].forecast, got[0].source) == (1_500_000, "baseline")


@pytest.mark.parametrize(
    ("hour", "minute", "share"),
    [(0, 0, 1.0), (12, 0, 0.66), (12, 30, 0.626), (23, 0, 0.032), (18, 45, 0.297)],
)
def test_share_of_the_day_still_to_come(hour: int, minute: int, share: float) -> None:
    assert fc.remaining_share(local(TODAY, hour, minute)) == pytest.approx(share)


def test_the_hour_curve_covers_the_day() -> None:
    assert len(fc.HOUR_SHARES_PERMILLE) == 24
    assert sum(fc.HOUR_SHARES_PERMILLE) == 1000
