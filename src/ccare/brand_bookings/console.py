"""The merchant's brand-booking pages: what each brand placement can still sell over the
next two weeks, the merchant's bookings with their delivery, a booking form (HTMX), and a
booking's day-by-day delivery report."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.brand_bookings import service
from ccare.brand_bookings.page_texts import ERRORS, LABELS
from ccare.brand_bookings.schemas import AvailabilityDay, BookingCreate, BookingOut
from ccare.core.errors import DomainError
from ccare.core.time import local_date, utcnow
from ccare.ledger import service as ledger
from ccare.promotion import service as promotion
from ccare.promotion.models import ReviewStatus
from ccare.web.deps import DbSession, RuntimeDep
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect, run_once
from ccare.web.routing import api_router
from ccare.web.templating import problem_text, render, translate

router = api_router(tags=["console"])

BOOKINGS = "/console/merchant/brand-bookings"
CHART_DAYS = 14
FORM_FIELDS = ("placement", "creative_id", "start_day", "end_day", "guaranteed")


def _form_defaults() -> dict[str, str]:
    tomorrow = local_date(utcnow()) + timedelta(days=1)
    return {
        "placement": service.brand_placements()[0].key,
        "creative_id": "",
        "start_day": tomorrow.isoformat(),
        "end_day": (tomorrow + timedelta(days=6)).isoformat(),
        "guaranteed": "100000",
    }


def _error_text(request: Request, exc: Exception) -> str:
    if isinstance(exc, DomainError) and exc.code in ERRORS:
        return translate(request, ERRORS[exc.code])
    return problem_text(request, exc)


def _chart(days: list[AvailabilityDay]) -> dict[str, Any]:
    return {
        "labels": [d.day.strftime("%m-%d") for d in days],
        "forecast": [d.forecast for d in days],
        "sellable": [d.sellable for d in days],
        "booked": [d.booked for d in days],
    }


def _availability(db: DbSession, runtime: RuntimeDep) -> list[dict[str, Any]]:
    now = utcnow()
    first = local_date(now) + timedelta(days=1)
    last = first + timedelta(days=CHART_DAYS - 1)
    out = []
    for placement in service.brand_placements():
        days = service.availability(db, runtime.analytics, placement.key, first, last, now)
        out.append(
            {
                "placement": placement,
                "cpm_fen": placement.reserve_cpm_fen,
                "days": days,
                "chart": _chart(days),
            }
        )
    return out


def _bookings(db: DbSession, staff: MerchantUser) -> list[BookingOut]:
    return [service.out(b) for b in service.list_bookings(db, staff.tenant)]


def _context(db: DbSession, staff: MerchantUser) -> dict[str, Any]:
    approved = promotion.list_creatives(db, staff.tenant, review_status=ReviewStatus.APPROVED)
    merchant_id = staff.merchant_id
    return {
        "bookings": _bookings(db, staff),
        "labels": LABELS,
        "placements": service.brand_placements(),
        "placement_names": {p.key: p.name for p in service.brand_placements()},
        "creatives": [c for c in approved if c.status != "ended"],
        "balance_fen": ledger.advertiser_balance(db, merchant_id) if merchant_id else 0,
        "can_manage": staff.can_manage(),
        "today": local_date(utcnow()),
    }


def _page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    runtime: RuntimeDep,
    *,
    form: dict[str, str] | None = None,
    form_error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "brand_bookings/merchant_bookings.html",
        status_code=status_code,
        availability=_availability(db, runtime),
        form=form or _form_defaults(),
        form_error=form_error,
        notice=notice,
        **_context(db, staff),
    )


@router.get(BOOKINGS)
def bookings_page(
    request: Request, db: DbSession, staff: MerchantUser, runtime: RuntimeDep, saved: str = ""
) -> Response:
    notice = translate(request, N_("Booked.")) if saved else None
    return _page(request, db, staff, runtime, notice=notice)


@router.post(BOOKINGS)
async def create_booking(
    request: Request, db: DbSession, staff: MerchantUser, runtime: RuntimeDep
) -> Response:
    """Book; to HTMX answers the form (and the bookings table out of band), else redirects."""
    posted = await request.form()
    form = {k: str(posted.get(k, "")).strip() for k in FORM_FIELDS}
    key = str(posted.get("out_request_no", ""))
    is_htmx = request.headers.get("hx-request") == "true"
    try:
        data = BookingCreate.model_validate({**form, "out_request_no": key})

        def produce() -> BookingOut:
            booking, _created = service.reserve(db, staff, runtime.analytics, data)
            return service.out(booking)

        run_once(db, staff, key, "brand_bookings.reserve", data.model_dump(mode="json"), produce)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        error = _error_text(request, exc)
        if is_htmx:
            return render(
                request,
                "brand_bookings/_form.html",
                status_code=status,
                form=form,
                form_error=error,
                **_context(db, staff),
            )
        return _page(request, db, staff, runtime, form=form, form_error=error, status_code=status)
    if not is_htmx:
        return redirect(f"{BOOKINGS}?saved=1")
    return render(
        request,
        "brand_bookings/_form.html",
        form=_form_defaults(),
        form_notice=translate(request, N_("Booked.")),
        refresh_bookings=True,
        **_context(db, staff),
    )


@router.get(BOOKINGS + "/{booking_id}")
def booking_page(
    request: Request, booking_id: PageId, db: DbSession, staff: MerchantUser
) -> Response:
    try:
        booking = service.get(db, staff.tenant, booking_id)
        report = service.delivery_report(db, staff.tenant, booking_id)
    except DomainError as exc:
        return error_page(request, exc)
    best = max([d.goal for d in report.days] + [d.delivered for d in report.days] + [1])
    return render(
        request,
        "brand_bookings/merchant_booking.html",
        booking=service.out(booking),
        report=report,
        bar_scale=100 / best,
        labels=LABELS,
        placement_names={p.key: p.name for p in service.brand_placements()},
        can_manage=staff.can_manage(),
        today=local_date(utcnow()),
    )


@router.post(BOOKINGS + "/{booking_id}/cancel")
def cancel_booking(
    request: Request,
    booking_id: PageId,
    db: DbSession,
    staff: MerchantUser,
    key: Annotated[str, Form()] = "",
) -> Response:
    def produce() -> BookingOut:
        return service.out(service.cancel(db, staff, booking_id))

    try:
        run_once(db, staff, key, f"brand_bookings.cancel:{booking_id}", {}, produce)
    except DomainError as exc:
        db.rollback()
        return error_page(request, exc)
    return redirect(f"{BOOKINGS}/{booking_id}")
