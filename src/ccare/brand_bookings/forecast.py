"""How many impressions a brand placement will have on a day, and how they fall over the
day's hours.

The forecast reads the `ad.impression` events of the placement in the analytics store
(every impression, booked or auctioned: the traffic, not the sales) and takes, for a
target day, the mean of the same weekday over the last four complete weeks. Days before
the placement's first impression in that window are left out, so a placement that
started serving ten days ago is not diluted by days it did not exist. A placement
without any impression in the window is forecast at its baseline below.

Only SELLABLE_PERCENT of the forecast is sold: the margin that lets guarantees be met
on a day whose traffic comes in under the forecast.

Days are local days in UTC+8 (no daylight saving), computed from the instant itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ccare.core.analytics import payload_str
from ccare.core.time import local_day_start

LOCAL_OFFSET = timedelta(hours=8)
SECONDS_PER_DAY = 86_400
HISTORY_WEEKS = 4
SELLABLE_PERCENT = 80

# Expected daily impressions of a brand placement with no history yet: the platform's
# estimate for an event's first days (五福 runs in the app's busiest weeks). Registry
# constants until the operator console edits placements.
BASELINE_DAILY_IMPRESSIONS: dict[str, int] = {
    "five_blessings": 2_000_000,
    "double_12": 1_500_000,
}
DEFAULT_BASELINE = 100_000

# Share of a day's traffic in each local hour, per mille (sums to 1000): quiet nights,
# a lunch peak and the evening peak of the consumer app. Pacing spreads delivery by it.
HOUR_SHARES_PERMILLE: tuple[int, ...] = (
    20, 12, 8, 6, 6, 10,  # 00-05
    22, 38, 50, 52, 54, 62,  # 06-11
    68, 56, 48, 46, 48, 52,  # 12-17
    60, 66, 70, 64, 50, 32,  # 18-23
)  # fmt: skip
assert sum(HOUR_SHARES_PERMILLE) == 1000


@dataclass(frozen=True)
class DayForecast:
    day: date
    forecast: int
    source: str  # "history" | "baseline"

    @property
    def sellable(self) -> int:
        return sellable(self.forecast)


def sellable(forecast: int) -> int:
    return forecast * SELLABLE_PERCENT // 100


def remaining_share(now: datetime) -> float:
    """The share of today's traffic still to come after `now` (1.0 at local midnight)."""
    local = now.astimezone(UTC) + LOCAL_OFFSET
    hour = local.hour
    into_hour = (local.minute * 60 + local.second + local.microsecond / 1e6) / 3600
    later = sum(HOUR_SHARES_PERMILLE[hour + 1 :])
    return (later + HOUR_SHARES_PERMILLE[hour] * (1 - into_hour)) / 1000


def baseline(placement: str) -> int:
    return BASELINE_DAILY_IMPRESSIONS.get(placement, DEFAULT_BASELINE)


def daily_impressions(analytics: Any, placement: str, first: date, last: date) -> dict[date, int]:
    """`ad.impression` events on `placement` per local day, days first..last (inclusive);
    days without impressions are absent."""
    t = analytics.events_table()
    e = t.filter(
        (t.type == "ad.impression")
        & (t.occurred_at >= local_day_start(first))
        & (t.occurred_at < local_day_start(last + timedelta(days=1)))
    )
    e = e.filter(payload_str(e, "placement") == placement)
    seconds = e.occurred_at.epoch_seconds().cast("float64") + LOCAL_OFFSET.total_seconds()
    e = e.mutate(day_no=(seconds / SECONDS_PER_DAY).floor().cast("int64"))
    counts = e.group_by("day_no").aggregate(n=e.count())
    epoch = date(1970, 1, 1)
    return {
        epoch + timedelta(days=int(row["day_no"])): int(row["n"])
        for row in counts.to_pyarrow().to_pylist()
    }


def forecast_days(
    analytics: Any, placement: str, days: list[date], today: date
) -> list[DayForecast]:
    """The expected impressions of each of `days`, from the complete weeks before `today`."""
    first = today - timedelta(days=7 * HISTORY_WEEKS)
    last = today - timedelta(days=1)
    counts = daily_impressions(analytics, placement, first, last) if analytics else {}
    if not counts:
        return [DayForecast(d, baseline(placement), "baseline") for d in days]
    since = min(counts)
    window = [since + timedelta(days=i) for i in range((last - since).days + 1)]
    out = []
    for target in days:
        same_weekday = [d for d in window if d.weekday() == target.weekday()]
        refs = same_weekday or window
        out.append(DayForecast(target, sum(counts.get(d, 0) for d in refs) // len(refs), "history"))
    return out
