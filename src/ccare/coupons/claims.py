"""Claims: a consumer takes a coupon, or a merchant sends one (the database path).

A claim counts against the user's, the device's and the day's limits and takes one unit
of stock, each by one conditional statement; any refusal raises, and the request's
transaction rolls back whatever was counted before it. With a Redis `ClaimGate`
(production mode) the same stock and limits are counted in Redis first, and only admitted
claims reach the database.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ccare.core.errors import Conflict, Forbidden
from ccare.core.outbox import emit
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.core.time import as_utc, utcnow
from ccare.coupons import risk, service
from ccare.coupons.gate import ClaimGate, Limit
from ccare.coupons.models import ActivityStatus, Channel, CodeMode, Coupon, CouponActivity
from ccare.coupons.repository import CouponRepository
from ccare.coupons.schemas import (
    ActivityOut,
    ClaimRequest,
    CouponClaimed,
    StockExhausted,
    ValiditySpec,
)
from ccare.coupons.validity import usable_period

LOCAL = ZoneInfo("Asia/Shanghai")  # claim limits count local calendar days, weeks, months
# Channels whose claims another product makes after checking its own rules.
PRODUCT_CHANNELS = frozenset({Channel.FAVORITES_GIFT})


def claim(
    db: Session,
    consumer: Principal,
    activity_id: int,
    request: ClaimRequest,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    gate: ClaimGate | None = None,
    product_channel: bool = False,
) -> Coupon:
    """A consumer takes a coupon (their own claim, on a channel), screened by the
    anti-cheating filter first. A repeated `claim_key` returns the coupon it gave.

    `product_channel`: the caller is the product that owns the channel (favorites for
    `favorites_gift`) and has checked its own conditions; a consumer's own request may not
    name such a channel."""
    if consumer.kind != PrincipalKind.CONSUMER:
        raise Forbidden("consumers claim coupons; merchants send them", code="auth.consumer_only")
    if request.channel in PRODUCT_CHANNELS and not product_channel:
        raise Forbidden(
            f"coupons on the {request.channel.value} channel are claimed through its product",
            code="coupon.channel_reserved",
        )
    activity = service.get_activity(db, PLATFORM, activity_id)
    if activity.favoriters_only and request.channel != Channel.FAVORITES_GIFT:
        raise Forbidden(
            "this coupon is an exclusive benefit: favorite the mini-program to claim it",
            code="coupon.favoriters_only",
        )
    repo = CouponRepository(db, PLATFORM)
    claim_key = f"{consumer.id}:{request.claim_key}"
    existing = repo.coupon_by_claim_key(activity.id, claim_key)
    if existing is not None:
        return existing
    now = now or utcnow()
    _check_open(activity, now)
    decision = risk.screen(db, activity, consumer.id, request.device_id, ip, now)
    coupon = _issue(repo, activity, consumer.id, claim_key, request, now, gate)
    decision.coupon_id = coupon.id
    repo.stage(decision)
    return coupon


def send(
    db: Session,
    actor: Principal,
    activity_id: int,
    consumer_id: int,
    request: ClaimRequest,
    *,
    gate: ClaimGate | None = None,
) -> Coupon:
    """The merchant (or its app) gives a coupon to a user; not screened by the filter."""
    activity = service.get_activity(db, actor.tenant, activity_id)
    service.require_manager(actor)
    repo = CouponRepository(db, PLATFORM)
    claim_key = f"{consumer_id}:{request.claim_key}"
    existing = repo.coupon_by_claim_key(activity.id, claim_key)
    if existing is not None:
        return existing
    now = utcnow()
    _check_open(activity, now)
    return _issue(repo, activity, consumer_id, claim_key, request, now, gate)


def _periods(now: datetime) -> dict[str, str]:
    local = now.astimezone(LOCAL)
    year, week, _ = local.isocalendar()
    return {
        "lifetime": "life",
        "day": f"d:{local:%Y-%m-%d}",
        "week": f"w:{year}-W{week:02d}",
        "month": f"m:{local:%Y-%m}",
    }


def _issue(
    repo: CouponRepository,
    activity: CouponActivity,
    consumer_id: int,
    claim_key: str,
    request: ClaimRequest,
    now: datetime,
    gate: ClaimGate | None,
) -> Coupon:
    db = repo.db
    periods = _periods(now)
    if gate is not None:
        _admit(db, gate, activity, consumer_id, request.device_id, periods)
    for period, limit in activity.user_limits.items():
        if not repo.bump_counter(activity.id, f"user:{consumer_id}", periods[period], limit):
            raise _user_limit_reached(period, limit)
    device = f"device:{request.device_id}"
    if (
        activity.device_limit is not None
        and request.device_id is not None
        and not repo.bump_counter(activity.id, device, "life", activity.device_limit)
    ):
        raise _device_limit_reached(activity.device_limit)
    if activity.daily_cap is not None and not repo.bump_counter(
        activity.id, "activity", periods["day"], activity.daily_cap
    ):
        raise _daily_cap_reached(activity.daily_cap)
    left = repo.take_stock(activity.id, secrets.randbelow(activity.buckets), activity.buckets)
    if left is None:
        if gate is not None:
            gate.sold_out(db, activity.id)  # Redis had drifted above the truth
        raise Conflict("no coupons left", code="coupon.stock_exhausted")
    valid_from, valid_until = usable_period(
        service.validity_of(ValiditySpec(**activity.validity)), now
    )
    coupon = Coupon(
        activity_id=activity.id,
        merchant_id=activity.merchant_id,
        consumer_id=consumer_id,
        code="",
        claim_key=claim_key,
        channel=request.channel,
        device_id=request.device_id,
        claimed_at=now,
        valid_from=valid_from.astimezone(UTC),
        valid_until=valid_until.astimezone(UTC),
    )
    if activity.code_mode == CodeMode.MERCHANT_UPLOAD:
        code = repo.free_code(activity.id)
        if code is None:
            raise Conflict("the merchant's codes are all given", code="coupon.codes_exhausted")
        coupon.code = code.code
        repo.add(coupon)
        code.coupon_id = coupon.id
    else:
        coupon.code = f"{secrets.randbelow(10**16):016d}"
        repo.add(coupon)
    emit(
        db,
        CouponClaimed(
            merchant_id=activity.merchant_id,
            consumer_id=consumer_id,
            activity_id=activity.id,
            coupon_id=coupon.id,
            code=coupon.code,
            channel=request.channel.value,
        ),
    )
    if left == 0 and repo.remaining([activity.id]).get(activity.id, 0) == 0:
        emit(
            db,
            StockExhausted(
                merchant_id=activity.merchant_id,
                activity_id=activity.id,
                out_biz_no=activity.out_biz_no,
            ),
        )
    return coupon


def _admit(
    db: Session,
    gate: ClaimGate,
    activity: CouponActivity,
    consumer_id: int,
    device_id: str | None,
    periods: dict[str, str],
) -> None:
    """The same stock and limits as the database path, counted in Redis first; each
    counter loads from the database's own count when Redis does not have it."""
    repo = CouponRepository(db)

    def limit(subject: str, period: str, most: int, refusal: Conflict) -> Limit:
        return Limit(
            f"{subject}:{period}", most, lambda: repo.counter(activity.id, subject, period), refusal
        )

    limits = [
        limit(f"user:{consumer_id}", periods[p], most, _user_limit_reached(p, most))
        for p, most in activity.user_limits.items()
    ]
    if activity.device_limit is not None and device_id is not None:
        limits.append(
            limit(
                f"device:{device_id}",
                "life",
                activity.device_limit,
                _device_limit_reached(activity.device_limit),
            )
        )
    if activity.daily_cap is not None:
        limits.append(
            limit(
                "activity",
                periods["day"],
                activity.daily_cap,
                _daily_cap_reached(activity.daily_cap),
            )
        )
    gate.admit(db, activity.id, lambda: repo.remaining([activity.id]).get(activity.id, 0), limits)


def _user_limit_reached(period: str, limit: int) -> Conflict:
    return Conflict(
        f"you have all the coupons of this activity you may have ({period})",
        code="coupon.user_limit_reached",
        period=period,
        limit=limit,
    )


def _device_limit_reached(limit: int) -> Conflict:
    return Conflict(
        "this device has all the coupons of this activity it may have",
        code="coupon.device_limit_reached",
        limit=limit,
    )


def _daily_cap_reached(limit: int) -> Conflict:
    return Conflict(
        "today's coupons are all given; come back tomorrow",
        code="coupon.daily_cap_reached",
        limit=limit,
    )


def _check_open(activity: CouponActivity, now: datetime) -> None:
    if activity.status != ActivityStatus.ACTIVE:
        raise Conflict(
            f"this activity is {activity.status.value}",
            code="coupon.activity_not_active",
            status=activity.status.value,
        )
    if now < as_utc(activity.claim_begin):
        raise Conflict("coupons are not given out yet", code="coupon.claim_not_started")
    if now >= as_utc(activity.claim_end):
        raise Conflict("coupons are no longer given out", code="coupon.claim_ended")


def my_coupons(db: Session, consumer: Principal) -> list[Coupon]:
    return CouponRepository(db, PLATFORM).coupons(consumer_id=consumer.id)


def activity_coupons(db: Session, tenant: Tenant, activity_id: int) -> list[Coupon]:
    service.get_activity(db, tenant, activity_id)
    return CouponRepository(db, tenant).coupons(activity_id=activity_id)


def claims_by_channel(db: Session, tenant: Tenant, activity_id: int) -> dict[str, int]:
    """Coupons issued by the activity per channel, every channel present (zero if none)."""
    service.get_activity(db, tenant, activity_id)
    counts = CouponRepository(db, tenant).claims_by_channel(activity_id)
    return {c.value: counts.get(c.value, 0) for c in Channel}


def claimable_activities(
    db: Session, consumer_id: int, merchant_id: int, now: datetime | None = None
) -> list[ActivityOut]:
    """A merchant's activities (newest first) a consumer could claim now: active, within
    their claim window, with stock left, under the consumer's limits and today's cap. The
    device limit and the anti-cheating filter are only known at the claim itself."""
    now = now or utcnow()
    repo = CouponRepository(db, PLATFORM)
    periods = _periods(now)
    open_now = [
        a
        for a in repo.activities(merchant_id)
        if a.status == ActivityStatus.ACTIVE
        and not a.favoriters_only
        and as_utc(a.claim_begin) <= now < as_utc(a.claim_end)
    ]
    left = repo.remaining([a.id for a in open_now])
    found: list[ActivityOut] = []
    for activity in open_now:
        if left.get(activity.id, 0) <= 0:
            continue
        user = f"user:{consumer_id}"
        if any(
            repo.counter(activity.id, user, periods[period]) >= most
            for period, most in activity.user_limits.items()
        ):
            continue
        cap = activity.daily_cap
        if cap is not None and repo.counter(activity.id, "activity", periods["day"]) >= cap:
            continue
        found.append(service.out(activity, left[activity.id]))
    return found
