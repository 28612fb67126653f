"""Days of 繁星 points are local days of the platform (UTC+8, no daylight saving)."""

from __future__ import annotations

from datetime import date, datetime

from ccare.core.time import BEIJING, as_utc


def local_day(at: datetime) -> date:
    return as_utc(at).astimezone(BEIJING).date()
