"""Quiet hours and cap periods in a consumer's local time (pure functions).

A marketing message due in quiet hours goes out at the next allowed moment; it counts
against the caps of the local day and ISO week it goes out in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ccare.core.errors import InvalidInput

# Cities whose clocks differ from the mainland's (all of mainland China is Asia/Shanghai).
CITY_ZONES = {
    "Hong Kong": "Asia/Hong_Kong",
    "香港": "Asia/Hong_Kong",
    "Macau": "Asia/Macau",
    "Macao": "Asia/Macau",
    "澳门": "Asia/Macau",
    "Taipei": "Asia/Taipei",
    "台北": "Asia/Taipei",
    "Singapore": "Asia/Singapore",
    "新加坡": "Asia/Singapore",
    "Tokyo": "Asia/Tokyo",
    "东京": "Asia/Tokyo",
    "Seoul": "Asia/Seoul",
    "首尔": "Asia/Seoul",
    "Bangkok": "Asia/Bangkok",
    "曼谷": "Asia/Bangkok",
}
MAINLAND = "Asia/Shanghai"


def zone_for_city(city: str | None) -> str:
    return CITY_ZONES.get((city or "").strip(), MAINLAND)


def check_zone(name: str) -> str:
    try:
        if "/" not in name or name not in available_timezones():
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)",
            code="message.time_zone_invalid",
            field="time_zone",
        ) from exc
    return name


@dataclass(frozen=True)
class QuietHours:
    start_minute: int  # local minutes after midnight; start == end: no quiet hours
    end_minute: int

    def contains(self, minute: int) -> bool:
        start, end = self.start_minute, self.end_minute
        if start == end:
            return False
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end  # the window wraps past midnight


@dataclass(frozen=True)
class Slot:
    """When a marketing message to one time zone goes out, and which periods it counts in."""

    due_at: datetime  # UTC
    deferred: bool
    day: str
    week: str


def slot(now: datetime, zone: str, quiet: QuietHours) -> Slot:
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    due = local
    deferred = quiet.contains(minute)
    if deferred:
        day = local.date()
        if quiet.start_minute > quiet.end_minute and minute >= quiet.start_minute:
            day += timedelta(days=1)
        end = time(quiet.end_minute // 60, quiet.end_minute % 60)
        due = datetime.combine(day, end, tzinfo=tz)
    year, week, _ = due.isocalendar()
    return Slot(
        due_at=due.astimezone(UTC),
        deferred=deferred,
        day=f"d:{due.date().isoformat()}",
        week=f"w:{year}-W{week:02d}",
    )
