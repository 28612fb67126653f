"""Delivery ahead of the auction: the pacing probabilities, a simulated day that meets its
goal late in the day, the guarantee cap, and completion with the shortfall refunded."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ccare.brand_bookings import service, tasks
from ccare.brand_bookings.forecast import HOUR_SHARES_PERMILLE
from ccare.brand_bookings.models import BrandBooking, BrandBookingDay
from ccare.core.db import Database
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import Tenant
from ccare.ledger import service as ledger
from tests.brand_bookings.conftest import (
    FUNDS,
    TOMORROW,
    Advertiser,
    balance,
    days_from,
    local,
    revenue,
    set_capacity,
)

DAYS4 = days_from(TOMORROW, 4)
FB = "five_blessings"


@pytest.fixture
def booked(adv: Advertiser, db: Database) -> int:
    """10,003 over four days (2,501, 2,501, 2,501, 2,500) on a 25,000-impression forecast."""
    set_capacity(db, FB, DAYS4, 20_000)
    return adv.book()[0].id


def _choose(db: Database, at_hour: float, rand: float, day: int = 0) -> int | None:
    hour, minute = int(at_hour), round((at_hour % 1) * 60)
    with db.transaction() as s:
        ad = service.choose(s, FB, local(DAYS4[day], hour, minute), rand)
        return None if ad is None else ad.booking_id


def _deliver(db: Database, booking_id: int, n: int, day: int = 0) -> None:
    with db.transaction() as s:
        for _ in range(n):
            assert service.record_delivery(s, booking_id, local(DAYS4[day], 9))


def test_serve_probability_is_goal_left_over_traffic_left(booked: int, db: Database) -> None:
    # Noon: 66% of the day's 25,000 impressions are still to come.
    assert pytest.approx(0.151576, abs=1e-6) == 2_501 / 16_500
    assert _choose(db, 12, 0.151575) == booked
    assert _choose(db, 12, 0.151577) is None
    _deliver(db, booked, 501)
    assert _choose(db, 12, 2_000 / 16_500 - 1e-9) == booked
    assert _choose(db, 12, 2_000 / 16_500 + 1e-9) is None
    # Day 2 at midnight: its 2,501 and day 1's 2,000 short, over the whole day's traffic.
    assert _choose(db, 0, 4_501 / 25_000 - 1e-9, day=1) == booked
    assert _choose(db, 0, 4_501 / 25_000 + 1e-9, day=1) is None
    # 23:00: 800 impressions left in the day, fewer than the goal: always serve.
    assert _choose(db, 23, 0.999999, day=1) == booked


def test_several_bookings_share_the_draw(adv: Advertiser, booked: int, db: Database) -> None:
    second = adv.book("b2", guaranteed=4_000)[0].id  # 1,000 a day
    assert _choose(db, 0, 0.10003) == booked  # 2,501 / 25,000 = 0.10004
    assert _choose(db, 0, 0.10005) == second  # then 1,000 / 25,000 = 0.04
    assert _choose(db, 0, 0.14003) == second
    assert _choose(db, 0, 0.14005) is None
    # 23:30: both would serve every time (1 + 1): scaled to half each.
    assert _choose(db, 23.5, 0.4999) == booked
    assert _choose(db, 23.5, 0.5001) == second


def test_nothing_outside_the_booking(booked: int, db: Database) -> None:
    with db.transaction() as s:
        assert service.choose(s, FB, local(TOMORROW - timedelta(days=1), 12), 0.0) is None
        assert service.choose(s, FB, local(DAYS4[3] + timedelta(days=1), 12), 0.0) is None
        assert service.choose(s, "double_12", local(DAYS4[0], 12), 0.0) is None
        ad = service.choose(s, FB, local(DAYS4[0], 12), 0.0)
        assert ad is not None
        assert (ad.creative_id, ad.cpm_fen) == (1, 3_000)


def test_a_simulated_day_meets_its_goal_in_its_last_hours(adv: Advertiser, db: Database) -> None:
    day = DAYS4[0]
    set_capacity(db, FB, [day], 2_000)  # forecast 2,500
    booking_id = adv.book("day", end_day=day.isoformat(), guaranteed=1_000)[0].id
    rng = random.Random(20261125)
    delivered = 0
    by_hour: list[int] = []
    with db.transaction() as s:
        for hour, share in enumerate(HOUR_SHARES_PERMILLE):
            arrivals = 2_500 * share // 1_000  # traffic exactly as forecast
            for i in range(arrivals):
                at = local(day, hour) + timedelta(seconds=3_600 * i / arrivals)
                ad = service.choose(s, FB, at, rng.random())
                if ad is not None and service.record_delivery(s, ad.booking_id, at):
                    delivered += 1
            by_hour.append(delivered)
    assert 990 <= delivered <= 1_000
    assert by_hour[20] < 1_000  # still short at 21:00: spread over the day, not front-loaded
    assert 0.28 <= by_hour[11] / 1_000 <= 0.40  # 34% of the traffic comes before noon
    with db.transaction() as s:
        assert service.get(s, Tenant(frozenset({adv.merchant_id})), booking_id).delivered == (
            delivered
        )


def test_record_delivery_stops_at_the_guarantee(adv: Advertiser, db: Database) -> None:
    day = DAYS4[0]
    booking_id = adv.book("cap", end_day=day.isoformat(), guaranteed=1_000)[0].id
    with db.transaction() as s:
        s.execute(update(BrandBooking).values(delivered=998))
    with db.transaction() as s:
        assert service.record_delivery(s, booking_id, local(day, 20))
        assert service.record_delivery(s, booking_id, local(day, 21))
        assert not service.record_delivery(s, booking_id, local(day, 22))
        assert service.choose(s, FB, local(day, 22), 0.0) is None
    with db.transaction() as s:
        booking = s.get(BrandBooking, booking_id)
        assert booking is not None
        assert (booking.delivered, booking.status) == (1_000, "delivering")
        assert s.scalar(select(BrandBookingDay.delivered)) == 2


def test_record_delivery_outside_its_days_counts_nothing(booked: int, db: Database) -> None:
    with db.transaction() as s:
        assert not service.record_delivery(s, booked, local(TOMORROW - timedelta(days=1), 12))
        assert not service.record_delivery(s, booked, local(DAYS4[3] + timedelta(days=1), 1))
        assert not service.record_delivery(s, 999_999, local(DAYS4[0], 12))
        assert s.scalar(select(BrandBooking.delivered)) == 0


def _set_delivered(db: Database, booking_id: int, per_day: list[int]) -> None:
    with db.transaction() as s:
        for day, n in zip(DAYS4, per_day, strict=True):
            s.execute(
                update(BrandBookingDay)
                .where(BrandBookingDay.booking_id == booking_id, BrandBookingDay.day == day)
                .values(delivered=n)
            )
        s.execute(update(BrandBooking).values(delivered=sum(per_day)))


def test_completion_refunds_the_shortfall(adv: Advertiser, booked: int, db: Database) -> None:
    tenant = Tenant(frozenset({adv.merchant_id}))
    assert tasks.run_due(db, local(DAYS4[0], 0, 1)) == 1  # reserved → delivering
    _set_delivered(db, booked, [2_501, 2_000, 100, 0])
    with db.transaction() as s:
        report = service.delivery_report(s, tenant, booked, local(DAYS4[2], 12))
        assert (report.shortfall, report.final, report.refund_fen) == (501, False, 0)
        assert [d.shortfall for d in report.days] == [0, 501, None, None]
    _set_delivered(db, booked, [2_501, 2_000, 2_499, 2_000])
    assert tasks.run_due(db, local(DAYS4[3], 23, 59)) == 0  # its last day is not over
    after = local(DAYS4[3] + timedelta(days=1), 0, 1)
    assert tasks.run_due(db, after) == 1
    assert tasks.run_due(db, after) == 0
    refund = 1_003 * 3_000 // 1_000
    assert refund == 3_009
    assert balance(db, adv.merchant_id) == FUNDS - 30_009 + 3_009
    assert revenue(db) == 30_009 - 3_009
    with db.transaction() as s:
        report = service.delivery_report(s, tenant, booked, after)
        assert (report.status, report.delivered, report.shortfall, report.refund_fen) == (
            "completed",
            9_000,
            1_003,
            3_009,
        )
        assert report.final
        assert [(d.goal, d.delivered, d.shortfall) for d in report.days] == [
            (2_501, 2_501, 0),
            (2_501, 2_000, 501),
            (2_501, 2_499, 2),
            (2_500, 2_000, 500),
        ]
        event = s.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "brand_booking.completed")
        ).one()
        assert {k: event.payload[k] for k in ("guaranteed", "delivered", "shortfall")} == {
            "guaranteed": 10_003,
            "delivered": 9_000,
            "shortfall": 1_003,
        }
        assert event.payload["refund_fen"] == 3_009
        assert ledger.check_invariants(s) == []


def test_a_fully_delivered_booking_completes_without_refund(
    adv: Advertiser, booked: int, db: Database
) -> None:
    _set_delivered(db, booked, [2_501, 2_501, 2_501, 2_500])
    assert tasks.run_due(db, local(DAYS4[3] + timedelta(days=1), 9)) == 1
    assert balance(db, adv.merchant_id) == FUNDS - 30_009
    with db.transaction() as s:
        booking = s.get(BrandBooking, booked)
        assert booking is not None
        assert (booking.status, booking.shortfall, booking.refund_fen) == ("completed", 0, 0)
