"""Brand bookings (品牌宝): guaranteed impressions on a platform-event placement, the
per-day goals they are delivered against, and the inventory they are sold from."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ccare.core.db import Base, BigId, IdMixin, TimestampMixin, str_enum
from ccare.core.time import utcnow


class BookingStatus(StrEnum):
    RESERVED = "reserved"  # paid, inventory held, its first day not reached
    DELIVERING = "delivering"  # within its days
    COMPLETED = "completed"  # after its last day; any shortfall refunded
    CANCELLED = "cancelled"  # before its first day; fully refunded


class BrandBooking(IdMixin, TimestampMixin, Base):
    __tablename__ = "brand_bookings"
    __table_args__ = (
        UniqueConstraint("merchant_id", "out_request_no"),
        Index("ix_brand_bookings_serving", "placement", "status", "start_day"),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    out_request_no: Mapped[str] = mapped_column(String(64))
    placement: Mapped[str] = mapped_column(String(40))
    creative_id: Mapped[int] = mapped_column(BigInteger)
    # Local days (UTC+8), both included.
    start_day: Mapped[date] = mapped_column(Date)
    end_day: Mapped[date] = mapped_column(Date)
    guaranteed: Mapped[int] = mapped_column(BigInteger)
    cpm_fen: Mapped[int] = mapped_column(BigInteger)  # the placement's rate card when booked
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # prepaid: ceil(guaranteed × cpm / 1000)
    status: Mapped[BookingStatus] = mapped_column(
        str_enum(BookingStatus, 12), default=BookingStatus.RESERVED, index=True
    )
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    shortfall: Mapped[int] = mapped_column(BigInteger, default=0)  # set when completed
    refund_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # cancel or under-delivery
    cancelled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class BrandBookingDay(Base):
    """A booking's share of the guarantee on one day, and what was delivered that day."""

    __tablename__ = "brand_bookings_days"

    booking_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("brand_bookings.id"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger)
    goal: Mapped[int] = mapped_column(BigInteger)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)


class BrandInventory(Base):
    """What a placement can sell on a day. `forecast` and `capacity` are fixed when the row
    is first needed, so a booking sold against them stays sold; `booked` only changes by a
    conditional UPDATE that keeps it within `capacity`. Not a tenant row: the platform's."""

    __tablename__ = "brand_bookings_inventory"

    placement: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    forecast: Mapped[int] = mapped_column(BigInteger)
    capacity: Mapped[int] = mapped_column(BigInteger)
    booked: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[str] = mapped_column(String(10))  # "history" or "baseline"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
