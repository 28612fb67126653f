"""Requests, responses and domain events of brand bookings (品牌宝)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from ccare.brand_bookings.models import BookingStatus
from ccare.core.events import DomainEvent, domain_event
from ccare.core.schemas import Output, StrictInput

RequestNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,64}$")]
Id = Annotated[int, Field(gt=0, lt=2**62)]
PlacementKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MAX_DAYS = 31
MIN_GUARANTEED = 1_000
MAX_GUARANTEED = 1_000_000_000


class BookingCreate(StrictInput):
    merchant_id: Id | None = Field(default=None, description="omitted: your merchant")
    out_request_no: RequestNo = Field(
        description="the same number with the same content again: the same booking"
    )
    placement: PlacementKey = Field(description="a brand placement: five_blessings, double_12")
    creative_id: Id = Field(description="one of your approved creatives")
    start_day: date = Field(description="first local day (UTC+8); tomorrow at the earliest")
    end_day: date = Field(description=f"last local day, at most {MAX_DAYS} days in all")
    guaranteed: int = Field(
        ge=MIN_GUARANTEED,
        le=MAX_GUARANTEED,
        description="impressions guaranteed over the days, split evenly across them",
    )


class BookingOut(Output):
    id: int
    merchant_id: int
    out_request_no: str
    placement: str
    creative_id: int
    start_day: date
    end_day: date
    guaranteed: int
    cpm_fen: int = Field(description="the placement's rate card per 1,000 impressions")
    amount_fen: int = Field(description="prepaid: ceil(guaranteed × cpm_fen / 1000)")
    status: BookingStatus
    delivered: int
    shortfall: int = Field(description="guaranteed − delivered, once completed")
    refund_fen: int = Field(description="refunded: all when cancelled, the shortfall pro rata")
    cancelled_at: datetime | None
    completed_at: datetime | None
    created_at: datetime


class AvailabilityDay(Output):
    day: date
    forecast: int = Field(description="expected impressions of the placement that day")
    source: str = Field(description="history (same weekday, last 4 weeks) or baseline")
    sellable: int = Field(description="what is sold: 80% of the forecast")
    booked: int
    available: int = Field(description="sellable − booked")


class DeliveryDay(Output):
    day: date
    goal: int = Field(description="the booking's share of the guarantee that day")
    delivered: int
    shortfall: int | None = Field(description="goal − delivered once the day is over")


class DeliveryReport(Output):
    booking_id: int
    status: BookingStatus
    guaranteed: int
    delivered: int
    shortfall: int = Field(
        description="completed: guaranteed − delivered; before: how far the days that are"
        " over fell short of their goals"
    )
    refund_fen: int
    final: bool = Field(description="the booking is completed: these numbers will not change")
    days: list[DeliveryDay]


@domain_event("brand_booking.reserved")
class BrandBookingReserved(DomainEvent):
    booking_id: int
    placement: str
    creative_id: int
    start_day: date
    end_day: date
    guaranteed: int
    cpm_fen: int
    amount_fen: int


@domain_event("brand_booking.cancelled")
class BrandBookingCancelled(DomainEvent):
    booking_id: int
    placement: str
    refund_fen: int


@domain_event("brand_booking.completed")
class BrandBookingCompleted(DomainEvent):
    booking_id: int
    placement: str
    guaranteed: int
    delivered: int
    shortfall: int
    refund_fen: int
