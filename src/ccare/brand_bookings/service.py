"""Brand bookings (品牌宝): guaranteed impressions on a platform-event placement, bought
ahead at the placement's rate card and served before any auction ad.

reserved (paid, inventory held) → delivering (its days have come) → completed (after its
last day, the shortfall refunded pro rata); cancelled (before its first day, fully
refunded). The ad server asks `choose()` before running the auction for a brand
placement and reports each impression it served with `record_delivery()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ccare.brand_bookings import forecast as fc
from ccare.brand_bookings.completion import complete as complete
from ccare.brand_bookings.completion import delivery_report as delivery_report
from ccare.brand_bookings.completion import ended as ended
from ccare.brand_bookings.completion import start_due as start_due
from ccare.brand_bookings.models import BookingStatus, BrandBooking, BrandBookingDay
from ccare.brand_bookings.repository import BrandBookingRepository
from ccare.brand_bookings.schemas import (
    MAX_DAYS,
    AvailabilityDay,
    BookingCreate,
    BookingOut,
    BrandBookingCancelled,
    BrandBookingReserved,
)
from ccare.core.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Principal, Tenant
from ccare.core.time import local_date, utcnow
from ccare.ledger import service as ledger
from ccare.merchants import service as merchants
from ccare.promotion import service as promotion
from ccare.promotion.placements import BY_KEY, PLACEMENTS, Placement, Scene

S = BookingStatus


@dataclass(frozen=True)
class BookedAd:
    """What the ad server shows instead of running the auction."""

    booking_id: int
    merchant_id: int
    creative_id: int
    cpm_fen: int


def merchant_for(db: Session, actor: Principal, requested: int | None) -> int:
    return merchants.merchant_for(db, actor, requested, code="brand_bookings.merchant_required")


def brand_placements() -> list[Placement]:
    return [p for p in PLACEMENTS if p.scene == Scene.BRAND]


def bookable(key: str) -> Placement:
    placement = BY_KEY.get(key)
    if placement is None or placement.scene != Scene.BRAND:
        raise InvalidInput(
            "only brand placements are booked: " + ", ".join(p.key for p in brand_placements()),
            code="brand_bookings.placement_not_bookable",
        )
    return placement


def get(db: Session, tenant: Tenant, booking_id: int) -> BrandBooking:
    booking = BrandBookingRepository(db, tenant).booking(booking_id)
    if booking is None:
        raise NotFound("no such brand booking", code="brand_bookings.not_found")
    return booking


def list_bookings(
    db: Session, tenant: Tenant, merchant_id: int | None = None
) -> list[BrandBooking]:
    return BrandBookingRepository(db, tenant).bookings(merchant_id)


# --- days and money -------------------------------------------------------------------


def day_range(start_day: date, end_day: date) -> list[date]:
    if end_day < start_day:
        raise InvalidInput("end_day is before start_day", code="brand_bookings.bad_dates")
    days = (end_day - start_day).days + 1
    if days > MAX_DAYS:
        raise InvalidInput(
            f"at most {MAX_DAYS} days at a time", code="brand_bookings.bad_dates", days=days
        )
    return [start_day + timedelta(days=i) for i in range(days)]


def split(guaranteed: int, days: int) -> list[int]:
    """Evenly over the days; the remainder one each on the first days."""
    base, extra = divmod(guaranteed, days)
    return [base + 1 if i < extra else base for i in range(days)]


def amount_fen(guaranteed: int, cpm_fen: int) -> int:
    return -(-guaranteed * cpm_fen // 1000)


# --- availability -----------------------------------------------------------------------


def availability(
    db: Session, analytics: Any, placement: str, start_day: date, end_day: date, now: datetime
) -> list[AvailabilityDay]:
    """Per day: the forecast, what is sellable, booked and still available. A day already
    sold from keeps the forecast and capacity it was first sold against."""
    bookable(placement)
    days = day_range(start_day, end_day)
    rows = BrandBookingRepository(db).inventory(placement, days)
    missing = [d for d in days if d not in rows]
    fresh = {f.day: f for f in fc.forecast_days(analytics, placement, missing, local_date(now))}
    out = []
    for day in days:
        row = rows.get(day)
        if row is not None:
            forecast, source, sellable, booked = row.forecast, row.source, row.capacity, row.booked
        else:
            f = fresh[day]
            forecast, source, sellable, booked = f.forecast, f.source, f.sellable, 0
        out.append(
            AvailabilityDay(
                day=day,
                forecast=forecast,
                source=source,
                sellable=sellable,
                booked=booked,
                available=max(0, sellable - booked),
            )
        )
    return out


# --- reservation ------------------------------------------------------------------------


def _same_request(booking: BrandBooking, data: BookingCreate) -> bool:
    return (
        booking.placement,
        booking.creative_id,
        booking.start_day,
        booking.end_day,
        booking.guaranteed,
    ) == (data.placement, data.creative_id, data.start_day, data.end_day, data.guaranteed)


def find_same(db: Session, actor: Principal, data: BookingCreate) -> BrandBooking | None:
    """The booking this out_request_no already made, or None; request_conflict when it was
    made with other content."""
    merchant_id = merchant_for(db, actor, data.merchant_id)
    earlier = BrandBookingRepository(db, actor.tenant).by_request_no(
        merchant_id, data.out_request_no
    )
    if earlier is not None and not _same_request(earlier, data):
        raise Conflict(
            "out_request_no was used for another booking", code="brand_bookings.request_conflict"
        )
    return earlier


def _check_creative(db: Session, actor: Principal, merchant_id: int, creative_id: int) -> None:
    creative = promotion.get_creative(db, actor.tenant, creative_id)
    if creative.merchant_id != merchant_id:
        raise NotFound("no such creative", code="promotion.creative_not_found")
    if creative.review_status != "approved" or creative.status == "ended":
        raise Conflict(
            "only an approved, active creative can be booked",
            code="brand_bookings.creative_not_approved",
        )


class _Duplicate(Exception):
    """Another transaction made a booking with the same out_request_no first."""


def reserve(
    db: Session,
    actor: Principal,
    analytics: Any,
    data: BookingCreate,
    now: datetime | None = None,
) -> tuple[BrandBooking, bool]:
    """Hold the inventory of every day and prepay, all or nothing; the same out_request_no
    with the same content returns the first booking (created = False)."""
    merchants.require_manager(actor)
    now = now or utcnow()
    merchant_id = merchant_for(db, actor, data.merchant_id)
    earlier = find_same(db, actor, data)
    if earlier is not None:
        return earlier, False
    placement = bookable(data.placement)
    days = day_range(data.start_day, data.end_day)
    today = local_date(now)
    if data.start_day <= today:
        raise InvalidInput(
            "a booking starts tomorrow at the earliest", code="brand_bookings.start_in_past"
        )
    _check_creative(db, actor, merchant_id, data.creative_id)
    shares = split(data.guaranteed, len(days))
    amount = amount_fen(data.guaranteed, placement.reserve_cpm_fen)
    booking = BrandBooking(
        merchant_id=merchant_id,
        out_request_no=data.out_request_no,
        placement=placement.key,
        creative_id=data.creative_id,
        start_day=data.start_day,
        end_day=data.end_day,
        guaranteed=data.guaranteed,
        cpm_fen=placement.reserve_cpm_fen,
        amount_fen=amount,
        status=S.RESERVED,
        delivered=0,
        shortfall=0,
        refund_fen=0,
    )
    try:
        with db.begin_nested():
            _hold_and_pay(db, analytics, booking, days, shares, today)
    except _Duplicate:
        again = find_same(db, actor, data)
        if again is None:  # the other insert was rolled back after all: the caller retries
            raise Conflict(
                "a booking with this out_request_no is being made; retry",
                code="brand_bookings.request_conflict",
            ) from None
        return again, False
    emit(
        db,
        BrandBookingReserved(
            merchant_id=merchant_id,
            booking_id=booking.id,
            placement=booking.placement,
            creative_id=booking.creative_id,
            start_day=booking.start_day,
            end_day=booking.end_day,
            guaranteed=booking.guaranteed,
            cpm_fen=booking.cpm_fen,
            amount_fen=amount,
        ),
    )
    return booking, True


def _hold_and_pay(
    db: Session,
    analytics: Any,
    booking: BrandBooking,
    days: list[date],
    shares: list[int],
    today: date,
) -> None:
    repo = BrandBookingRepository(db)
    try:
        with db.begin_nested():
            repo.add(booking)
    except IntegrityError:
        raise _Duplicate() from None
    known = repo.inventory(booking.placement, days)
    missing = [d for d in days if d not in known]
    repo.ensure_inventory(
        [
            {
                "placement": booking.placement,
                "day": f.day,
                "forecast": f.forecast,
                "capacity": f.sellable,
                "booked": 0,
                "source": f.source,
            }
            for f in fc.forecast_days(analytics, booking.placement, missing, today)
        ]
    )
    # Days in ascending order in every transaction, so two bookings never wait on each other.
    for day, share in zip(days, shares, strict=True):
        if not repo.take(booking.placement, day, share):
            row = repo.inventory(booking.placement, [day])[day]
            raise Conflict(
                f"sold out on {day.isoformat()}",
                code="brand_bookings.sold_out",
                day=day.isoformat(),
                available=max(0, row.capacity - row.booked),
                requested=share,
            )
    ledger.post(
        db,
        "brand_booking",
        f"brand_booking:{booking.id}",
        [
            (ledger.advertiser(db, booking.merchant_id), -booking.amount_fen),
            (ledger.platform_revenue(db), booking.amount_fen),
        ],
        memo="brand booking prepayment",
    )
    for day, share in zip(days, shares, strict=True):
        db.add(
            BrandBookingDay(
                booking_id=booking.id, day=day, merchant_id=booking.merchant_id, goal=share
            )
        )
    db.flush()


def cancel(
    db: Session, actor: Principal, booking_id: int, now: datetime | None = None
) -> BrandBooking:
    """Before its first day: the inventory goes back on sale and the prepayment is refunded
    in full. Cancelling a cancelled booking changes nothing."""
    merchants.require_manager(actor)
    now = now or utcnow()
    booking = get(db, actor.tenant, booking_id)
    if booking.status == S.CANCELLED:
        return booking
    repo = BrandBookingRepository(db, actor.tenant)
    if booking.start_day <= local_date(now) or not repo.move(
        booking.id,
        [S.RESERVED],
        {"status": S.CANCELLED, "cancelled_at": now, "refund_fen": booking.amount_fen},
    ):
        raise IllegalTransition(
            "the booking has started; it is delivered, and any shortfall refunded at its end",
            code="brand_bookings.already_started",
        )
    for row in repo.days(booking.id):
        repo.release(booking.placement, row.day, row.goal)
    ledger.post(
        db,
        "brand_booking_refund",
        f"brand_booking:{booking.id}:cancel",
        [
            (ledger.platform_revenue(db), -booking.amount_fen),
            (ledger.advertiser(db, booking.merchant_id), booking.amount_fen),
        ],
        memo="brand booking cancelled",
    )
    db.refresh(booking)
    emit(
        db,
        BrandBookingCancelled(
            merchant_id=booking.merchant_id,
            booking_id=booking.id,
            placement=booking.placement,
            refund_fen=booking.amount_fen,
        ),
    )
    return booking


# --- delivery (the ad server's interface) ---------------------------------------------


def serve_probability(remaining_goal: int, expected_traffic: float) -> float:
    """The chance of serving the booking on one impression: what is left of today's goal
    over the impressions still expected today, so delivery follows the traffic and the
    goal is met by the day's end; 1 once the traffic left would not be enough."""
    if remaining_goal <= 0:
        return 0.0
    if expected_traffic <= remaining_goal:
        return 1.0
    return remaining_goal / expected_traffic


def choose(db: Session, placement: str, now: datetime, rand: float) -> BookedAd | None:
    """The booking to serve on this impression of `placement`, or None: run the auction.
    A booking's goal today is its share of the day plus what earlier days fell short of.
    With several bookings live, each gets its own probability slice of [0, 1) by id; when
    their sum passes 1 the slices are scaled to fit."""
    today = local_date(now)
    repo = BrandBookingRepository(db)
    live = repo.serving(placement, today)
    if not live:
        return None
    row = repo.inventory(placement, [today]).get(today)
    expected = (row.forecast if row is not None else fc.baseline(placement)) * fc.remaining_share(
        now
    )
    chances = [serve_probability(goal - booking.delivered, expected) for booking, goal in live]
    scale = 1 / sum(chances) if sum(chances) > 1 else 1.0
    edge = 0.0
    for (booking, _), chance in zip(live, chances, strict=True):
        edge += chance * scale
        if rand < edge:
            return BookedAd(booking.id, booking.merchant_id, booking.creative_id, booking.cpm_fen)
    return None


def record_delivery(db: Session, booking_id: int, now: datetime) -> bool:
    """Count one served impression; False when the booking is full or not live today."""
    return BrandBookingRepository(db).count_delivery(booking_id, local_date(now))


def out(booking: BrandBooking) -> BookingOut:
    return BookingOut.model_validate(booking, from_attributes=True)
