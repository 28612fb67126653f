"""Reserving: the split over the days, the exact prepayment, inventory from the forecast,
idempotency, every refusal with nothing written, and cancelling with a full refund."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ccare.brand_bookings import service
from ccare.brand_bookings.models import BrandBooking, BrandBookingDay
from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.outbox import OutboxEvent
from ccare.ledger import service as ledger
from tests.brand_bookings.conftest import (
    FUNDS,
    NOW,
    TODAY,
    TOMORROW,
    Advertiser,
    balance,
    days_from,
    fund,
    inventory,
    make_creative,
    revenue,
    set_capacity,
)

DAYS4 = days_from(TOMORROW, 4)


def test_split_and_price() -> None:
    assert service.split(10_003, 4) == [2_501, 2_501, 2_501, 2_500]
    assert service.split(1_000, 31)[:11] == [33] * 8 + [32] * 3  # 1,000 = 31 × 32 + 8
    assert sum(service.split(1_000, 31)) == 1_000
    assert service.amount_fen(10_003, 3_000) == 30_009
    assert service.amount_fen(1_001, 2_500) == 2_503  # 2,502.5 rounded up


def test_reserve_holds_each_day_and_prepays(adv: Advertiser, db: Database) -> None:
    booking, created = adv.book()
    assert created
    assert (booking.status, booking.cpm_fen, booking.amount_fen) == ("reserved", 3_000, 30_009)
    assert (booking.start_day, booking.end_day, booking.delivered) == (DAYS4[0], DAYS4[-1], 0)
    # No history: capacity is 80% of the five_blessings baseline of 2,000,000.
    assert inventory(db) == {
        DAYS4[0]: (1_600_000, 2_501),
        DAYS4[1]: (1_600_000, 2_501),
        DAYS4[2]: (1_600_000, 2_501),
        DAYS4[3]: (1_600_000, 2_500),
    }
    assert balance(db, adv.merchant_id) == FUNDS - 30_009
    assert revenue(db) == 30_009
    with db.transaction() as s:
        goals = s.execute(
            select(BrandBookingDay.day, BrandBookingDay.goal).order_by(BrandBookingDay.day)
        ).all()
        assert [tuple(g) for g in goals] == list(
            zip(DAYS4, [2_501, 2_501, 2_501, 2_500], strict=True)
        )
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.type == "brand_booking.reserved"))
        payload = event.one().payload
        assert (payload["booking_id"], payload["amount_fen"], payload["guaranteed"]) == (
            booking.id,
            30_009,
            10_003,
        )
        assert ledger.check_invariants(s) == []


def test_same_request_no_same_content_is_the_same_booking(adv: Advertiser, db: Database) -> None:
    first, _ = adv.book()
    again, created = adv.book()
    assert (again.id, created) == (first.id, False)
    assert balance(db, adv.merchant_id) == FUNDS - 30_009
    assert inventory(db)[DAYS4[0]] == (1_600_000, 2_501)
    with pytest.raises(DomainError) as err:
        adv.book(guaranteed=20_000)
    assert err.value.code == "brand_bookings.request_conflict"


def _snapshot(db: Database) -> tuple[object, ...]:
    with db.transaction() as s:
        bookings = s.scalar(select(func.count()).select_from(BrandBooking)) or 0
        outbox = s.scalar(select(func.count()).select_from(OutboxEvent)) or 0
    return bookings, outbox, revenue(db), inventory(db), balance(db, 0)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"placement": "home_feed"}, "brand_bookings.placement_not_bookable"),
        ({"placement": "nowhere"}, "brand_bookings.placement_not_bookable"),
        ({"start_day": TODAY.isoformat()}, "brand_bookings.start_in_past"),
        ({"end_day": TODAY.isoformat()}, "brand_bookings.bad_dates"),
        ({"end_day": (TOMORROW + timedelta(days=31)).isoformat()}, "brand_bookings.bad_dates"),
        ({"guaranteed": 2_000_000}, "wallet.insufficient_funds"),  # ¥60,000 > ¥50,000
        ({"guaranteed": 6_400_001}, "brand_bookings.sold_out"),
    ],
)
def test_refusals_write_nothing(
    adv: Advertiser, db: Database, overrides: dict[str, object], code: str
) -> None:
    before = _snapshot(db)
    with pytest.raises(DomainError) as err:
        adv.book(**overrides)  # type: ignore[arg-type]
    assert err.value.code == code
    assert _snapshot(db) == before
    assert balance(db, adv.merchant_id) == FUNDS


def test_creatives_of_others_or_unapproved_are_refused(adv: Advertiser, db: Database) -> None:
    pending = make_creative(db, adv.merchant_id, approve=False)
    before = _snapshot(db)
    with pytest.raises(DomainError) as err:
        adv.book(creative_id=adv.other_creative_id)
    assert (err.value.code, err.value.status_code) == ("promotion.creative_not_found", 404)
    with pytest.raises(DomainError) as err:
        adv.book(creative_id=pending)
    assert (err.value.code, err.value.status_code) == ("brand_bookings.creative_not_approved", 409)
    assert _snapshot(db) == before


def test_sold_out_names_the_first_short_day(adv: Advertiser, db: Database) -> None:
    set_capacity(db, "five_blessings", DAYS4, 2_000)
    adv.book("a", guaranteed=6_000)  # 1,500 a day
    before = _snapshot(db)
    with pytest.raises(DomainError) as err:
        adv.book("b", start_day=DAYS4[1].isoformat(), guaranteed=1_503)  # 501, 501, 501
    assert err.value.code == "brand_bookings.sold_out"
    assert err.value.details == {"day": DAYS4[1].isoformat(), "available": 500, "requested": 501}
    assert _snapshot(db) == before
    assert inventory(db) == {d: (2_000, 1_500) for d in DAYS4}
    fitting, _ = adv.book("c", start_day=DAYS4[1].isoformat(), guaranteed=1_500)
    assert inventory(db)[DAYS4[3]] == (2_000, 2_000)
    assert balance(db, adv.merchant_id) == FUNDS - 18_000 - 4_500


def test_cancel_before_the_first_day_refunds_in_full(adv: Advertiser, db: Database) -> None:
    booking, _ = adv.book()
    with db.transaction() as s:
        cancelled = service.cancel(s, adv.owner, booking.id, NOW)
        assert (cancelled.status, cancelled.refund_fen) == ("cancelled", 30_009)
    assert balance(db, adv.merchant_id) == FUNDS
    assert revenue(db) == 0
    assert inventory(db) == {d: (1_600_000, 0) for d in DAYS4}
    with db.transaction() as s:  # again: no change
        assert service.cancel(s, adv.owner, booking.id, NOW).status == "cancelled"
        ours = OutboxEvent.type.like("brand_booking.%")
        types = list(s.scalars(select(OutboxEvent.type).where(ours).order_by(OutboxEvent.id)))
        assert types == ["brand_booking.reserved", "brand_booking.cancelled"]
        assert ledger.check_invariants(s) == []
    assert balance(db, adv.merchant_id) == FUNDS


def test_no_cancel_once_started(adv: Advertiser, db: Database) -> None:
    booking, _ = adv.book()
    on_first_day = NOW + timedelta(days=1)
    with db.transaction() as s, pytest.raises(DomainError) as err:
        service.cancel(s, adv.owner, booking.id, on_first_day)
    assert (err.value.code, err.value.status_code) == ("brand_bookings.already_started", 409)
    assert balance(db, adv.merchant_id) == FUNDS - 30_009
    assert inventory(db)[DAYS4[0]] == (1_600_000, 2_501)


def test_a_top_up_makes_room(adv: Advertiser, db: Database) -> None:
    fund(db, adv.merchant_id, 1_000_000)
    booking, _ = adv.book(guaranteed=2_000_000)
    assert booking.amount_fen == 6_000_000
    assert balance(db, adv.merchant_id) == 0
