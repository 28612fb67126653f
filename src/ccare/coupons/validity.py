"""When a claimed coupon may be used: its period, and the weekdays and hours inside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class TimeWindow:
    start: time
    end: time


@dataclass(frozen=True)
class Validity:
    begin: datetime | None = None
    end: datetime | None = None
    days_after_claim: int | None = None
    wait_days: int = 0
    weekdays: frozenset[int] = frozenset(range(7))
    windows: tuple[TimeWindow, ...] = ()
    timezone: str = "Asia/Shanghai"


def validate(v: Validity) -> None:
    _zone(v.timezone)
    for name, value in (("begin", v.begin), ("end", v.end)):
        if value is not None and value.utcoffset() is None:
            raise ValueError(f"{name}: must be timezone-aware")
    if v.days_after_claim is None:
        if v.begin is None and v.end is None:
            raise ValueError(
                "begin, end, days_after_claim: give an absolute period (begin and end) "
                "or a relative one (days_after_claim)"
            )
        if v.begin is None or v.end is None:
            missing = "begin" if v.begin is None else "end"
            raise ValueError(f"{missing}: an absolute period needs both begin and end")
        if v.wait_days:
            raise ValueError("wait_days: only applies with days_after_claim")
    elif v.days_after_claim < 1:
        raise ValueError("days_after_claim: must be >= 1")
    if v.begin is not None and v.end is not None and v.begin >= v.end:
        raise ValueError("begin: must be before end")
    if v.wait_days < 0:
        raise ValueError("wait_days: must be >= 0")
    if not v.weekdays:
        raise ValueError("weekdays: must not be empty")
    if not v.weekdays <= frozenset(range(7)):
        raise ValueError("weekdays: must be within 0 (Monday) .. 6 (Sunday)")
    for window in v.windows:
        if window.start.tzinfo is not None or window.end.tzinfo is not None:
            raise ValueError("windows: times are local wall-clock times, without tzinfo")
        if window.start >= window.end:
            raise ValueError(f"windows: {window.start}-{window.end} must start before it ends")
    ordered = sorted(v.windows, key=lambda w: w.start)
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(
                f"windows: {before.start}-{before.end} overlaps {after.start}-{after.end}"
            )


def usable_period(v: Validity, claimed_at: datetime) -> tuple[datetime, datetime]:
    """The [valid_from, valid_until) interval, in the Validity's timezone.

    A period that closes before it opens (say, claimed too late to outlast the wait before the
    activity ends) comes back empty: valid_until == valid_from.
    """
    validate(v)
    _aware("claimed_at", claimed_at)
    zone = _zone(v.timezone)
    starts: list[datetime] = []
    ends: list[datetime] = []
    if v.begin is not None:
        starts.append(v.begin)
    if v.end is not None:
        ends.append(v.end)
    if v.days_after_claim is not None:
        first = claimed_at.astimezone(zone).date() + timedelta(days=v.wait_days)
        # Never before the claim itself, which only matters without a wait.
        starts.append(max(_midnight(first, zone), claimed_at))
        ends.append(_midnight(first + timedelta(days=v.days_after_claim), zone))
    valid_from = max(starts).astimezone(zone)
    valid_until = min(ends).astimezone(zone)
    return valid_from, max(valid_until, valid_from)


def check_usable(v: Validity, claimed_at: datetime, at: datetime) -> str | None:
    _aware("at", at)
    valid_from, valid_until = usable_period(v, claimed_at)
    if at >= valid_until or valid_from == valid_until:
        return "coupon.expired"
    if at < valid_from:
        return "coupon.not_yet_valid"
    local = at.astimezone(_zone(v.timezone))
    if local.weekday() not in v.weekdays:
        return "coupon.wrong_weekday"
    now = local.time()
    if v.windows and not any(w.start <= now < w.end for w in v.windows):
        return "coupon.outside_hours"
    return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"timezone: unknown time zone {name!r}") from None


def _aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name}: must be timezone-aware")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)
