"""The end of a brand booking: it shows as delivering while its days run, and after its
last day it is completed with its shortfall refunded pro rata; and the day-by-day report
of what was delivered against the goals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ccare.brand_bookings.models import BookingStatus
from ccare.brand_bookings.repository import LIVE, BrandBookingRepository
from ccare.brand_bookings.schemas import BrandBookingCompleted, DeliveryDay, DeliveryReport
from ccare.core.errors import NotFound
from ccare.core.outbox import emit
from ccare.core.tenancy import Tenant
from ccare.core.time import local_date, utcnow
from ccare.ledger import service as ledger

S = BookingStatus


def start_due(db: Session, now: datetime) -> int:
    return BrandBookingRepository(db).start_due(local_date(now))


def ended(db: Session, now: datetime, limit: int = 100) -> list[int]:
    return BrandBookingRepository(db).ended(local_date(now), limit)


def complete(db: Session, booking_id: int, now: datetime | None = None) -> bool:
    """After its last day: completed, and the shortfall refunded at the booked CPM
    (floor(shortfall × cpm / 1000) fen). False when it is not due or another worker did it."""
    now = now or utcnow()
    repo = BrandBookingRepository(db)
    booking = repo.booking(booking_id)
    if booking is None or booking.status not in LIVE or booking.end_day >= local_date(now):
        return False
    shortfall = booking.guaranteed - booking.delivered
    refund = shortfall * booking.cpm_fen // 1000
    values = {
        "status": S.COMPLETED,
        "completed_at": now,
        "shortfall": shortfall,
        "refund_fen": refund,
    }
    if not repo.move(booking.id, LIVE, values):
        return False
    if refund:
        ledger.post(
            db,
            "brand_booking_refund",
            f"brand_booking:{booking.id}:shortfall",
            [
                (ledger.platform_revenue(db), -refund),
                (ledger.advertiser(db, booking.merchant_id), refund),
            ],
            memo="brand booking under-delivery",
        )
    db.refresh(booking)
    emit(
        db,
        BrandBookingCompleted(
            merchant_id=booking.merchant_id,
            booking_id=booking.id,
            placement=booking.placement,
            guaranteed=booking.guaranteed,
            delivered=booking.delivered,
            shortfall=shortfall,
            refund_fen=refund,
        ),
    )
    return True


def delivery_report(
    db: Session, tenant: Tenant, booking_id: int, now: datetime | None = None
) -> DeliveryReport:
    booking = BrandBookingRepository(db, tenant).booking(booking_id)
    if booking is None:
        raise NotFound("no such brand booking", code="brand_bookings.not_found")
    today = local_date(now or utcnow())
    final = booking.status == S.COMPLETED
    rows = BrandBookingRepository(db, tenant).days(booking.id)
    days = [
        DeliveryDay(
            day=r.day,
            goal=r.goal,
            delivered=r.delivered,
            shortfall=max(0, r.goal - r.delivered) if final or r.day < today else None,
        )
        for r in rows
    ]
    if final or booking.status == S.CANCELLED:
        shortfall = booking.shortfall
    else:
        past = [r for r in rows if r.day < today]
        shortfall = max(0, sum(r.goal - r.delivered for r in past))
    return DeliveryReport(
        booking_id=booking.id,
        status=booking.status,
        guaranteed=booking.guaranteed,
        delivered=booking.delivered,
        shortfall=shortfall,
        refund_fen=booking.refund_fen,
        final=final,
        days=days,
    )
