"""The brand bookings API (品牌宝): availability, book, cancel, and the delivery report."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from fastapi.responses import JSONResponse

from ccare.brand_bookings import service
from ccare.brand_bookings.schemas import (
    AvailabilityDay,
    BookingCreate,
    BookingOut,
    DeliveryReport,
)
from ccare.core.time import utcnow
from ccare.web.deps import (
    CurrentStaff,
    CurrentTenant,
    DbSession,
    IdempotencyKey,
    IdPath,
    RuntimeDep,
)
from ccare.web.idempotent import run_idempotent
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["brand_bookings"])
BOOKING = "/brand-bookings/{booking_id}"


@router.get(
    "/brand-bookings/availability",
    response_model=list[AvailabilityDay],
    summary="Per day of a brand placement: forecast impressions, sellable (80%), booked and"
    " available (at most 31 days)",
)
def availability(
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    placement: Annotated[str, Query(max_length=40)],
    start_day: date,
    end_day: date,
) -> list[AvailabilityDay]:
    return service.availability(db, runtime.analytics, placement, start_day, end_day, utcnow())


@router.post(
    "/brand-bookings",
    response_model=BookingOut,
    status_code=201,
    summary="Book guaranteed impressions, prepaid from the advertising account at the rate"
    " card (Idempotency-Key; the same out_request_no with the same content: the same"
    " booking, 200)",
)
def create(
    body: BookingCreate,
    db: DbSession,
    staff: CurrentStaff,
    runtime: RuntimeDep,
    key: IdempotencyKey,
) -> JSONResponse:
    operation = "brand_bookings.create"
    earlier = service.find_same(db, staff, body)
    if earlier is not None:
        # A replay of the same key still answers its first 201; a new key gets 200.
        same = service.out(earlier)
        return run_idempotent(db, staff, key, operation, body, lambda: same, status_code=200)

    def produce() -> BookingOut:
        booking, _created = service.reserve(db, staff, runtime.analytics, body)
        return service.out(booking)

    return run_idempotent(db, staff, key, operation, body, produce, status_code=201)


@router.get(
    "/brand-bookings", response_model=list[BookingOut], summary="Your brand bookings, newest first"
)
def list_bookings(
    db: DbSession,
    tenant: CurrentTenant,
    merchant_id: Annotated[int | None, Query(gt=0, lt=2**62)] = None,
) -> list[BookingOut]:
    return [service.out(b) for b in service.list_bookings(db, tenant, merchant_id)]


@router.get(BOOKING, response_model=BookingOut, summary="One brand booking")
def get_booking(booking_id: IdPath, db: DbSession, tenant: CurrentTenant) -> BookingOut:
    return service.out(service.get(db, tenant, booking_id))


@router.get(
    BOOKING + "/delivery",
    response_model=DeliveryReport,
    summary="Goal against delivered per day, the shortfall and its refund",
)
def delivery(booking_id: IdPath, db: DbSession, tenant: CurrentTenant) -> DeliveryReport:
    return service.delivery_report(db, tenant, booking_id)


@router.post(
    BOOKING + "/cancel",
    response_model=BookingOut,
    summary="Before its first day: release the inventory and refund in full"
    " (Idempotency-Key; again: no change)",
)
def cancel(
    booking_id: IdPath, db: DbSession, staff: CurrentStaff, key: IdempotencyKey
) -> JSONResponse:
    def produce() -> BookingOut:
        return service.out(service.cancel(db, staff, booking_id))

    return run_idempotent(db, staff, key, f"brand_bookings.cancel:{booking_id}", {}, produce)
