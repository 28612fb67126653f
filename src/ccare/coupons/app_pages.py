"""The consumer app's coupon pages: the wallet, and the claim page a counter QR code or a
shared link opens."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from ccare.core.errors import DomainError
from ccare.core.tenancy import PLATFORM
from ccare.core.time import as_utc, utcnow
from ccare.coupons import claims, page_texts, service
from ccare.coupons.gate import gate_for
from ccare.coupons.models import ActivityStatus, Channel, Coupon, CouponStatus
from ccare.coupons.schemas import ClaimRequest
from ccare.merchants import service as merchants
from ccare.web.deps import DbSession, RuntimeDep, client_ip
from ccare.web.i18n import N_
from ccare.web.pages import AppConsumer, PageId, redirect
from ccare.web.routing import api_router, end_refused

app_router = api_router(tags=["app"])

GROUPS = (
    (CouponStatus.AVAILABLE.value, N_("Available")),
    (CouponStatus.LOCKED.value, N_("Locked by an order")),
    (CouponStatus.USED.value, N_("Used")),
    (CouponStatus.EXPIRED.value, N_("Expired")),
)


def _group(coupon: Coupon, now: datetime) -> str:
    """Where a coupon shows: a voided coupon, or one past its last day, is expired."""
    status = coupon.status.value
    if status == CouponStatus.VOIDED.value:
        return CouponStatus.EXPIRED.value
    if status == CouponStatus.AVAILABLE.value and as_utc(coupon.valid_until) <= now:
        return CouponStatus.EXPIRED.value
    return status


@app_router.get("/app/coupons")
def app_coupons(request: Request, db: DbSession, consumer: AppConsumer) -> Response:
    coupons = claims.my_coupons(db, consumer)
    activities = {
        a: service.get_activity(db, PLATFORM, a) for a in sorted({c.activity_id for c in coupons})
    }
    shops = {
        m: merchants.get_merchant(db, PLATFORM, m).name
        for m in sorted({a.merchant_id for a in activities.values()})
    }
    now = utcnow()
    grouped: dict[str, list[Coupon]] = {key: [] for key, _label in GROUPS}
    for coupon in coupons:
        grouped[_group(coupon, now)].append(coupon)
    return page_texts.page(
        request,
        "coupons/app_coupons.html",
        groups=[(key, label, grouped[key]) for key, label in GROUPS],
        activities=activities,
        shops=shops,
        total=len(coupons),
    )


@app_router.get("/app/coupons/claim/{activity_id}")
def app_claim_page(
    request: Request,
    activity_id: PageId,
    db: DbSession,
    consumer: AppConsumer,
    channel: str = "offline_qr",
) -> Response:
    """Where a scanned counter QR code (or a shared link) lands: the coupon, one button."""
    return _claim_page(request, db, activity_id, _channel(channel))


@app_router.post("/app/coupons/claim/{activity_id}")
def app_claim(
    request: Request,
    activity_id: PageId,
    db: DbSession,
    runtime: RuntimeDep,
    consumer: AppConsumer,
    channel: Annotated[str, Form()] = "offline_qr",
    claim_key: Annotated[str, Form(min_length=1, max_length=64)] = "",
) -> Response:
    request_ = ClaimRequest(channel=_channel(channel), claim_key=claim_key or "scan")
    ip = client_ip(request)
    gate = gate_for(runtime.settings.effective_redis_url)
    try:
        claims.claim(db, consumer, activity_id, request_, ip=ip, gate=gate)
    except DomainError as exc:
        end_refused(db, exc)
        problem = page_texts.problem(request, exc)
        return _claim_page(
            request, db, activity_id, request_.channel, problem=problem, status=exc.status_code
        )
    return redirect("/app/coupons")


def _channel(text: str) -> Channel:
    try:
        return Channel(text)
    except ValueError:
        return Channel.OFFLINE_QR


def _claim_page(
    request: Request,
    db: DbSession,
    activity_id: int,
    channel: Channel,
    *,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    activity = service.get_activity(db, PLATFORM, activity_id)
    now = utcnow()
    offered = activity.status == ActivityStatus.ACTIVE and (
        as_utc(activity.claim_begin) <= now < as_utc(activity.claim_end)
    )
    shown = page_texts.page(
        request,
        "coupons/app_claim.html",
        activity=activity,
        shop=merchants.get_merchant(db, PLATFORM, activity.merchant_id).name,
        channel=channel.value,
        offered=offered,
        claim_key=secrets.token_hex(8),
        problem=problem,
    )
    shown.status_code = status
    return shown
