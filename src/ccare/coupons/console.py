"""The merchant's coupon pages: activities (create, status, stock, history, claims per
channel, the offline QR code) and the anti-cheating filter's panel (strictness, published
rules, what it blocked per activity). The app's coupon pages are in `app_pages.py`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ccare.catalog import service as catalog
from ccare.catalog.models import ItemStatus
from ccare.core.errors import DomainError
from ccare.coupons import antifraud, claims, console_filter, page_texts, risk, service
from ccare.coupons.app_pages import app_router
from ccare.coupons.models import ActivityStatus
from ccare.coupons.pricing import CouponKind
from ccare.coupons.qr import claim_link, claim_qr_svg
from ccare.coupons.schemas import (
    ActivityCreate,
    AppendQuantity,
    SettingsIn,
    StatusChange,
)
from ccare.web.charts import local_today
from ccare.web.deps import DbSession
from ccare.web.i18n import N_
from ccare.web.pages import MerchantUser, PageId, error_page, redirect
from ccare.web.routing import api_router
from ccare.web.templating import DISPLAY_TZ, parse_yuan, translate

router = api_router(tags=["console"])

COUPONS = "/console/merchant/coupons"
FORM_KINDS = tuple(CouponKind)
GOODS_KINDS = (CouponKind.SPECIAL_PRICE.value, CouponKind.EXCHANGE.value)  # name their goods
CLAIM_DAYS = 30
VALID_DAYS = 7


def _count(text: str) -> int | str | None:
    """'' -> None; digits -> int; anything else is passed on to fail validation."""
    text = text.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) < 12 else text


def _fen(text: str) -> int | str | None:
    """'' -> None; a yuan amount -> fen; anything else is passed on to fail validation."""
    if not text.strip():
        return None
    fen = parse_yuan(text)
    return text if fen is None else fen


def _day_start(text: str, *, plus_days: int = 0) -> datetime | str:
    """'2026-11-24' -> that day's first instant in the display time zone (plus days)."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return text
    return datetime.combine(day + timedelta(days=plus_days), datetime.min.time(), DISPLAY_TZ)


def _list_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    *,
    error: str | None = None,
    notice: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    today = local_today()
    defaults = {
        "kind": CouponKind.FIXED.value,
        "claim_begin": today.isoformat(),
        "claim_end": (today + timedelta(days=CLAIM_DAYS)).isoformat(),
        "valid_days": str(VALID_DAYS),
        "activate": "1",
    }
    merchant_id = service.merchant_for(staff, None)
    settings = risk.strictness(db, staff.tenant, merchant_id)
    return page_texts.page(
        request,
        "coupons/merchant_coupons.html",
        status_code=status_code,
        activities=service.list_activities(db, staff.tenant),
        kinds=FORM_KINDS,
        goods=_goods(db, staff, merchant_id) if staff.can_manage() else [],
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        form=form or defaults,
        strictness=settings.strictness.value,
        levels=console_filter.levels(request),
        rules=console_filter.rules(request),
        rules_version=antifraud.RULES_VERSION,
    )


def _goods(db: DbSession, staff: MerchantUser, merchant_id: int) -> list[dict[str, Any]]:
    """The merchant's goods on sale, for special-price and exchange coupons to name."""
    return [
        {"id": item.id, "name": item.name, "price_fen": item.price_fen, "shop": mp.name}
        for mp in catalog.list_mini_programs(db, staff.tenant, merchant_id=merchant_id)
        for item in catalog.list_items(db, staff.tenant, mp.id, status=ItemStatus.ON_SALE)
    ]


@router.get("/console/merchant/coupons")
def coupons(
    request: Request, db: DbSession, staff: MerchantUser, saved: str | None = None
) -> Response:
    notice = translate(request, N_("Saved.")) if saved else None
    return _list_page(request, db, staff, notice=notice)


@router.post("/console/merchant/coupons/strictness")
def set_strictness(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    strictness: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = SettingsIn.model_validate({"strictness": strictness})
        risk.set_strictness(db, staff, None, data.strictness)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list_page(
            request, db, staff, error=page_texts.problem(request, exc), status_code=status
        )
    return redirect(f"{COUPONS}?saved=1#risk-settings")


@router.post("/console/merchant/coupons")
def create_activity(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    out_biz_no: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = CouponKind.FIXED.value,
    amount: Annotated[str, Form()] = "",
    pay_rate: Annotated[str, Form()] = "",
    ceiling: Annotated[str, Form()] = "",
    special: Annotated[str, Form()] = "",
    cover: Annotated[str, Form()] = "",
    items: Annotated[list[str] | None, Form()] = None,
    floor: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    per_user: Annotated[str, Form()] = "",
    claim_begin: Annotated[str, Form()] = "",
    claim_end: Annotated[str, Form()] = "",
    valid_days: Annotated[str, Form()] = "",
    favoriters_only: Annotated[str, Form()] = "",
    activate: Annotated[str, Form()] = "",
) -> Response:
    form: dict[str, Any] = {
        "out_biz_no": out_biz_no,
        "name": name,
        "kind": kind,
        "amount": amount,
        "pay_rate": pay_rate,
        "ceiling": ceiling,
        "special": special,
        "cover": cover,
        "items": items or [],
        "floor": floor,
        "quantity": quantity,
        "per_user": per_user,
        "claim_begin": claim_begin,
        "claim_end": claim_end,
        "valid_days": valid_days,
        "favoriters_only": favoriters_only,
        "activate": activate,
    }
    per_user_limit = _count(per_user)
    # Each kind reads only its own fields: a hidden field of another kind keeps its value
    # in the browser but says nothing about this activity.
    body: dict[str, Any] = {
        "out_biz_no": out_biz_no,
        "name": name,
        "kind": kind,
        "amount_fen": {"fixed": _fen(amount), "exchange": _fen(cover)}.get(kind) or 0,
        # A pay rate in percent with up to two decimals is a count of basis points.
        "pay_rate_bp": _fen(pay_rate) if kind == CouponKind.DISCOUNT.value else None,
        "ceiling_fen": _fen(ceiling) if kind in ("discount", "special_price") else None,
        "special_fen": (_fen(special) or 0) if kind == CouponKind.SPECIAL_PRICE.value else 0,
        "items_include": ([_count(i) for i in items or []] or None)
        if kind in GOODS_KINDS
        else None,
        "floor_fen": _fen(floor) or 0,
        "quantity": _count(quantity),
        "user_limits": {} if per_user_limit is None else {"lifetime": per_user_limit},
        # The last claim day is included: claims end when the next day starts.
        "claim_begin": _day_start(claim_begin),
        "claim_end": _day_start(claim_end, plus_days=1),
        "validity": {"days_after_claim": _count(valid_days)},
        "favoriters_only": bool(favoriters_only),
        "activate": bool(activate),
    }
    try:
        data = ActivityCreate.model_validate(body)
        activity = service.create_activity(db, staff, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _list_page(
            request,
            db,
            staff,
            error=page_texts.problem(request, exc),
            form=form,
            status_code=status,
        )
    return redirect(f"{COUPONS}/{activity.id}?created=1")


def _detail_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    add: str = "",
    status_code: int = 200,
) -> Response:
    try:
        activity = service.get_activity(db, staff.tenant, activity_id)
    except DomainError as exc:
        return error_page(request, exc)
    out = service.activity_out(db, staff.tenant, activity)
    channels = claims.claims_by_channel(db, staff.tenant, activity_id)
    chart = {
        "labels": [translate(request, page_texts.LABELS[c]) for c in channels],
        "counts": list(channels.values()),
    }
    settings = risk.strictness(db, staff.tenant, activity.merchant_id)
    return page_texts.page(
        request,
        "coupons/merchant_activity.html",
        status_code=status_code,
        activity=out,
        actions=[s.value for s in service.TRANSITIONS[activity.status]],
        history=list(reversed(service.history(db, staff.tenant, activity_id))),
        channels=channels,
        chart=chart,
        risk=console_filter.risk_view(request, risk.report(db, staff.tenant, activity)),
        strictness=settings.strictness.value,
        can_manage=staff.can_manage(),
        error=error,
        notice=notice,
        add=add,
    )


@router.get("/console/merchant/coupons/{activity_id}")
def activity_page(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: PageId,
    created: str | None = None,
    saved: str | None = None,
) -> Response:
    notice = None
    if created:
        notice = translate(request, N_("Activity created."))
    elif saved:
        notice = translate(request, N_("Saved."))
    return _detail_page(request, db, staff, activity_id, notice=notice)


@router.get("/console/merchant/coupons/{activity_id}/qr.svg")
def activity_qr(
    request: Request, db: DbSession, staff: MerchantUser, activity_id: PageId
) -> Response:
    """The offline QR code for the counter (the same image the API serves to apps)."""
    try:
        service.get_activity(db, staff.tenant, activity_id)
    except DomainError as exc:
        return error_page(request, exc)
    svg = claim_qr_svg(claim_link(str(request.base_url), activity_id))
    return Response(svg, media_type="image/svg+xml")


@router.post("/console/merchant/coupons/{activity_id}/status")
def set_status(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: PageId,
    status: Annotated[str, Form()] = "",
) -> Response:
    try:
        change = StatusChange.model_validate({"status": status})
        service.set_status(db, staff, activity_id, ActivityStatus(change.status))
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        return _detail_page(
            request,
            db,
            staff,
            activity_id,
            error=page_texts.problem(request, exc),
            status_code=exc.status_code if isinstance(exc, DomainError) else 422,
        )
    return redirect(f"{COUPONS}/{activity_id}?saved=1")


@router.post("/console/merchant/coupons/{activity_id}/append")
def append(
    request: Request,
    db: DbSession,
    staff: MerchantUser,
    activity_id: PageId,
    add: Annotated[str, Form()] = "",
    out_request_no: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = AppendQuantity.model_validate({"add": _count(add), "out_request_no": out_request_no})
        service.append(db, staff, activity_id, data)
    except (DomainError, ValidationError) as exc:
        db.rollback()
        if isinstance(exc, DomainError) and exc.status_code == 404:
            return error_page(request, exc)
        status = exc.status_code if isinstance(exc, DomainError) else 422
        return _detail_page(
            request,
            db,
            staff,
            activity_id,
            error=page_texts.problem(request, exc),
            add=add,
            status_code=status,
        )
    return redirect(f"{COUPONS}/{activity_id}?saved=1")


# The app's coupon pages are registered with this product's console.
__all__ = ["app_router", "router"]
