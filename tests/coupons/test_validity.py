from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest

from ccare.coupons.validity import TimeWindow, Validity, check_usable, usable_period, validate

CST = timezone(timedelta(hours=8))
US = timedelta(microseconds=1)


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- the period ------------------------------------------------------------------------------

MARCH = Validity(begin=cst(2026, 3, 1), end=cst(2026, 4, 1))


def test_absolute_period_ignores_the_claim() -> None:
    assert usable_period(MARCH, claimed_at=cst(2026, 2, 10, 9)) == (
        cst(2026, 3, 1),
        cst(2026, 4, 1),
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (cst(2026, 3, 1) - US, "coupon.not_yet_valid"),
        (cst(2026, 3, 1), None),
        (cst(2026, 4, 1) - US, None),
        (cst(2026, 4, 1), "coupon.expired"),
        (utc(2026, 3, 31, 16), "coupon.expired"),
        (utc(2026, 3, 31, 15, 59, 59), None),
    ],
)
def test_absolute_period_boundaries(at: datetime, expected: str | None) -> None:
    assert check_usable(MARCH, cst(2026, 2, 10), at) == expected


def test_relative_period_waits_from_the_local_claim_day() -> None:
    v = Validity(days_after_claim=3, wait_days=1)

    # 23:30 UTC on 1 March is already 07:30 on 2 March in Shanghai.
    assert usable_period(v, utc(2026, 3, 1, 23, 30)) == (cst(2026, 3, 3), cst(2026, 3, 6))
    assert usable_period(v, cst(2026, 3, 1, 23, 30)) == (cst(2026, 3, 2), cst(2026, 3, 5))
    assert usable_period(v, utc(2026, 3, 1, 15, 59, 59)) == (cst(2026, 3, 2), cst(2026, 3, 5))
    assert usable_period(v, utc(2026, 3, 1, 16)) == (cst(2026, 3, 3), cst(2026, 3, 6))


def test_relative_period_boundaries() -> None:
    v = Validity(days_after_claim=3, wait_days=1)
    claimed = utc(2026, 3, 1, 23, 30)

    assert check_usable(v, claimed, cst(2026, 3, 3) - US) == "coupon.not_yet_valid"
    assert check_usable(v, claimed, cst(2026, 3, 3)) is None
    assert check_usable(v, claimed, cst(2026, 3, 6) - US) is None
    assert check_usable(v, claimed, cst(2026, 3, 6)) == "coupon.expired"


def test_without_a_wait_the_period_starts_at_the_claim() -> None:
    v = Validity(days_after_claim=1)
    claimed = cst(2026, 3, 1, 10, 15)

    assert usable_period(v, claimed) == (claimed, cst(2026, 3, 2))
    assert check_usable(v, claimed, claimed - US) == "coupon.not_yet_valid"


def test_the_earlier_end_wins() -> None:
    claimed = cst(2026, 3, 1, 10)
    activity_ends = Validity(days_after_claim=30, end=cst(2026, 3, 10))
    coupon_ends = Validity(days_after_claim=3, end=cst(2026, 3, 10))

    assert usable_period(activity_ends, claimed) == (claimed, cst(2026, 3, 10))
    assert usable_period(coupon_ends, claimed) == (claimed, cst(2026, 3, 4))


def test_a_begin_delays_a_relative_period() -> None:
    v = Validity(days_after_claim=5, begin=cst(2026, 3, 3, 12))
    assert usable_period(v, cst(2026, 3, 1, 10)) == (cst(2026, 3, 3, 12), cst(2026, 3, 6))


def test_a_period_that_closes_before_it_opens_is_expired() -> None:
    v = Validity(days_after_claim=3, wait_days=2, end=cst(2026, 3, 2))
    claimed = cst(2026, 3, 1, 10)

    assert usable_period(v, claimed) == (cst(2026, 3, 3), cst(2026, 3, 3))
    assert check_usable(v, claimed, cst(2026, 3, 1, 11)) == "coupon.expired"


def test_relative_days_follow_the_local_calendar_across_a_dst_change() -> None:
    v = Validity(days_after_claim=1, wait_days=1, timezone="America/New_York")
    # 8 March 2026 is 23 hours long in New York.
    start, end = usable_period(v, utc(2026, 3, 7, 17))
    assert (start, end) == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))


# --- weekdays and hours, in local time -------------------------------------------------------

WEEKDAYS_LUNCH = Validity(
    begin=cst(2026, 3, 1),
    end=cst(2026, 4, 1),
    weekdays=frozenset(range(5)),
    windows=(TimeWindow(time(11), time(14)), TimeWindow(time(17), time(21))),
)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Friday 6 March, 17:00 UTC is Saturday 01:00 in Shanghai.
        (utc(2026, 3, 6, 17), "coupon.wrong_weekday"),
        # Sunday 8 March, 23:30 UTC is Monday 07:30 in Shanghai: right day, wrong hour.
        (utc(2026, 3, 8, 23, 30), "coupon.outside_hours"),
        (utc(2026, 3, 9, 3), None),  # Monday 11:00
        (utc(2026, 3, 9, 6) - US, None),  # Monday 13:59:59.999999
        (utc(2026, 3, 9, 6), "coupon.outside_hours"),  # Monday 14:00, the end is exclusive
        (utc(2026, 3, 9, 12, 59), None),  # Monday 20:59
        (cst(2026, 3, 9, 21), "coupon.outside_hours"),
        (cst(2026, 2, 27, 12), "coupon.not_yet_valid"),  # a Friday lunch before the period
        (cst(2026, 4, 1, 12), "coupon.expired"),  # a Wednesday lunch after it
    ],
)
def test_weekday_and_hours_are_local(at: datetime, expected: str | None) -> None:
    assert check_usable(WEEKDAYS_LUNCH, cst(2026, 2, 1), at) == expected


def test_weekday_check_uses_the_validity_timezone() -> None:
    v = Validity(
        begin=utc(2026, 3, 1), end=utc(2026, 4, 1), weekdays=frozenset({5}), timezone="UTC"
    )
    assert check_usable(v, utc(2026, 2, 1), utc(2026, 3, 6, 17)) == "coupon.wrong_weekday"
    assert check_usable(v, utc(2026, 2, 1), utc(2026, 3, 7, 1)) is None


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="at"):
        check_usable(MARCH, cst(2026, 2, 1), datetime(2026, 3, 5, 12))
    with pytest.raises(ValueError, match="claimed_at"):
        usable_period(Validity(days_after_claim=1), datetime(2026, 3, 5, 12))


# --- validate ------------------------------------------------------------------------------


def test_a_well_formed_validity_passes() -> None:
    validate(WEEKDAYS_LUNCH)
    validate(Validity(days_after_claim=7, wait_days=1, end=cst(2026, 4, 1)))
    validate(Validity(days_after_claim=1, windows=(TimeWindow(time(9), time(12)),)))
    validate(
        Validity(
            days_after_claim=1,
            windows=(TimeWindow(time(12), time(14)), TimeWindow(time(9), time(12))),
        )
    )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({}, "begin, end, days_after_claim"),
        ({"begin": cst(2026, 3, 1)}, "end"),
        ({"end": cst(2026, 3, 1)}, "begin"),
        ({"begin": cst(2026, 3, 1), "end": cst(2026, 3, 1)}, "begin"),
        ({"begin": cst(2026, 3, 2), "end": cst(2026, 3, 1)}, "begin"),
        ({"days_after_claim": 0}, "days_after_claim"),
        ({"days_after_claim": 1, "wait_days": -1}, "wait_days"),
        ({"begin": cst(2026, 3, 1), "end": cst(2026, 4, 1), "wait_days": 1}, "wait_days"),
        ({"days_after_claim": 1, "weekdays": frozenset()}, "weekdays"),
        ({"days_after_claim": 1, "weekdays": frozenset({0, 7})}, "weekdays"),
        ({"days_after_claim": 1, "weekdays": frozenset({-1})}, "weekdays"),
        ({"days_after_claim": 1, "windows": (TimeWindow(time(14), time(14)),)}, "windows"),
        ({"days_after_claim": 1, "windows": (TimeWindow(time(14), time(11)),)}, "windows"),
        (
            {
                "days_after_claim": 1,
                "windows": (TimeWindow(time(17), time(21)), TimeWindow(time(11), time(17, 1))),
            },
            "windows",
        ),
        ({"begin": datetime(2026, 3, 1), "end": cst(2026, 4, 1)}, "begin"),
        ({"begin": cst(2026, 3, 1), "end": datetime(2026, 4, 1)}, "end"),
        ({"days_after_claim": 1, "timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"days_after_claim": 1, "timezone": ""}, "timezone"),
        ({"days_after_claim": 1, "timezone": "Asia"}, "timezone"),
    ],
)
def test_validate_names_the_bad_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=f"^{named}"):
        validate(Validity(**fields))
