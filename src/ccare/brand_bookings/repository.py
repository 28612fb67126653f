"""Every query of brand bookings; tenant rows only through `scoped()`. Inventory rows are
the platform's and are not scoped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ccare.brand_bookings.models import BookingStatus, BrandBooking, BrandBookingDay, BrandInventory
from ccare.core.tenancy import PLATFORM, Tenant, scoped

S = BookingStatus
LIVE = (S.RESERVED, S.DELIVERING)


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


# Counters change by UPDATEs that bypass the session, so every read refreshes the rows it
# finds already loaded instead of returning their stale copies.
FRESH = {"populate_existing": True}


class BrandBookingRepository:
    def __init__(self, db: Session, tenant: Tenant = PLATFORM) -> None:
        self.db = db
        self.tenant = tenant
        self.postgres = db.get_bind().dialect.name == "postgresql"

    def add(self, obj: object) -> None:
        self.db.add(obj)
        self.db.flush()

    # --- bookings ---------------------------------------------------------------------

    def booking(self, booking_id: int) -> BrandBooking | None:
        stmt = select(BrandBooking).where(BrandBooking.id == booking_id)
        stmt = scoped(stmt, BrandBooking.merchant_id, self.tenant)
        return self.db.scalars(stmt.execution_options(**FRESH)).first()

    def by_request_no(self, merchant_id: int, out_request_no: str) -> BrandBooking | None:
        stmt = select(BrandBooking).where(
            BrandBooking.merchant_id == merchant_id,
            BrandBooking.out_request_no == out_request_no,
        )
        return self.db.scalars(scoped(stmt, BrandBooking.merchant_id, self.tenant)).first()

    def bookings(self, merchant_id: int | None = None, limit: int = 200) -> list[BrandBooking]:
        stmt = select(BrandBooking).order_by(BrandBooking.id.desc()).limit(limit)
        if merchant_id is not None:
            stmt = stmt.where(BrandBooking.merchant_id == merchant_id)
        stmt = scoped(stmt, BrandBooking.merchant_id, self.tenant)
        return list(self.db.scalars(stmt.execution_options(**FRESH)))

    def move(self, booking_id: int, from_status: Iterable[S], values: dict[str, Any]) -> bool:
        """A conditional status change: false when the booking was no longer in `from_status`."""
        stmt = (
            update(BrandBooking)
            .where(BrandBooking.id == booking_id, BrandBooking.status.in_(list(from_status)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return _rows(self.db.execute(scoped(stmt, BrandBooking.merchant_id, self.tenant))) > 0

    def start_due(self, today: date) -> int:
        """reserved → delivering for every booking whose days are running."""
        stmt = (
            update(BrandBooking)
            .where(
                BrandBooking.status == S.RESERVED,
                BrandBooking.start_day <= today,
                BrandBooking.end_day >= today,
            )
            .values(status=S.DELIVERING)
            .execution_options(synchronize_session=False)
        )
        return _rows(self.db.execute(scoped(stmt, BrandBooking.merchant_id, self.tenant)))

    def ended(self, today: date, limit: int) -> list[int]:
        """Live bookings whose last day is over. Two workers may list the same one: the
        completion's conditional status change lets only one of them act."""
        stmt = (
            select(BrandBooking.id)
            .where(BrandBooking.status.in_(LIVE), BrandBooking.end_day < today)
            .order_by(BrandBooking.id)
            .limit(limit)
        )
        return list(self.db.scalars(scoped(stmt, BrandBooking.merchant_id, self.tenant)))

    # --- days -------------------------------------------------------------------------

    def days(self, booking_id: int) -> list[BrandBookingDay]:
        stmt = (
            select(BrandBookingDay)
            .where(BrandBookingDay.booking_id == booking_id)
            .order_by(BrandBookingDay.day)
        )
        stmt = scoped(stmt, BrandBookingDay.merchant_id, self.tenant)
        return list(self.db.scalars(stmt.execution_options(**FRESH)))

    def serving(self, placement: str, today: date) -> list[tuple[BrandBooking, int]]:
        """Bookings live today on `placement` with guarantee left, each with the sum of its
        goals through today, by id."""
        goals = (
            select(BrandBookingDay.booking_id, func.sum(BrandBookingDay.goal).label("goal"))
            .where(BrandBookingDay.day <= today)
            .group_by(BrandBookingDay.booking_id)
            .subquery()
        )
        stmt = (
            select(BrandBooking, goals.c.goal)
            .join(goals, goals.c.booking_id == BrandBooking.id)
            .where(
                BrandBooking.placement == placement,
                BrandBooking.status.in_(LIVE),
                BrandBooking.start_day <= today,
                BrandBooking.end_day >= today,
                BrandBooking.delivered < BrandBooking.guaranteed,
            )
            .order_by(BrandBooking.id)
        )
        stmt = scoped(stmt, BrandBooking.merchant_id, self.tenant).execution_options(**FRESH)
        rows = self.db.execute(stmt)
        return [(booking, int(goal)) for booking, goal in rows]

    def count_delivery(self, booking_id: int, today: date) -> bool:
        """One more impression, never beyond the guarantee nor outside the booking's days."""
        stmt = (
            update(BrandBooking)
            .where(
                BrandBooking.id == booking_id,
                BrandBooking.status.in_(LIVE),
                BrandBooking.start_day <= today,
                BrandBooking.end_day >= today,
                BrandBooking.delivered < BrandBooking.guaranteed,
            )
            .values(delivered=BrandBooking.delivered + 1, status=S.DELIVERING)
            .execution_options(synchronize_session=False)
        )
        if not _rows(self.db.execute(scoped(stmt, BrandBooking.merchant_id, self.tenant))):
            return False
        day = (
            update(BrandBookingDay)
            .where(BrandBookingDay.booking_id == booking_id, BrandBookingDay.day == today)
            .values(delivered=BrandBookingDay.delivered + 1)
            .execution_options(synchronize_session=False)
        )
        self.db.execute(scoped(day, BrandBookingDay.merchant_id, self.tenant))
        return True

    # --- inventory --------------------------------------------------------------------

    def inventory(self, placement: str, days: list[date]) -> dict[date, BrandInventory]:
        stmt = select(BrandInventory).where(
            BrandInventory.placement == placement, BrandInventory.day.in_(days)
        )
        return {row.day: row for row in self.db.scalars(stmt.execution_options(**FRESH))}

    def ensure_inventory(self, rows: list[dict[str, Any]]) -> None:
        """Create the missing (placement, day) rows; an existing row keeps its capacity."""
        if not rows:
            return
        insert = pg_insert if self.postgres else sqlite_insert
        stmt = (
            insert(BrandInventory)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["placement", "day"])
        )
        self.db.execute(stmt)

    def take(self, placement: str, day: date, n: int) -> bool:
        stmt = (
            update(BrandInventory)
            .where(
                BrandInventory.placement == placement,
                BrandInventory.day == day,
                BrandInventory.booked + n <= BrandInventory.capacity,
            )
            .values(booked=BrandInventory.booked + n)
            .execution_options(synchronize_session=False)
        )
        return _rows(self.db.execute(stmt)) > 0

    def release(self, placement: str, day: date, n: int) -> None:
        stmt = (
            update(BrandInventory)
            .where(BrandInventory.placement == placement, BrandInventory.day == day)
            .values(booked=BrandInventory.booked - n)
            .execution_options(synchronize_session=False)
        )
        self.db.execute(stmt)
